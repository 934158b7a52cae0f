package dev.infinityj.model;

import dev.infinityj.io.SafetensorsFile;
import dev.infinityj.io.WeightSource;

import java.util.function.Function;

/**
 * An independent float64 scalar implementation of the Infinity transformer WITHOUT a KV cache:
 * the whole teacher-forced sequence (all scales at once) through every block with the training
 * path's block-causal mask (token i sees token j iff scale(j) ≤ scale(i); spec §3.5). Inputs are
 * the fixture's own next-scale inputs {@code sNN.codes_in} and its RoPE table, so nothing here
 * shares code with the engine. Returns logits [bs][N][V].
 */
final class FullSequenceReference {
    private final Function<String, double[]> w;
    private final InfinityConfig c;

    FullSequenceReference(InfinityConfig c, WeightSource src) {
        this.c = c;
        this.w = k -> src.get(k).toDoubleArray();
    }

    private static double[][] linear(double[][] x, double[] wt, double[] b, int out) {
        int in = x[0].length;
        double[][] y = new double[x.length][out];
        for (int i = 0; i < x.length; i++)
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int p = 0; p < in; p++) s += x[i][p] * wt[o * in + p];
                y[i][o] = s;
            }
        return y;
    }

    private static double[] ln(double[] x, double eps) {
        double m = 0, v = 0;
        for (double e : x) m += e;
        m /= x.length;
        for (double e : x) v += (e - m) * (e - m);
        v /= x.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = (x[i] - m) / Math.sqrt(v + eps);
        return y;
    }

    private static double gelu(double z) { return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z))); }

    private static double silu(double z) { return z / (1 + Math.exp(-z)); }

    /** softmax(scale·q·k) v over the allowed keys, one head. */
    private static void attend(double[] q, int qOff, double[][] k, double[][] v, int off, int hd, int nKeys, double scale, double[] out, int outOff) {
        double[] s = new double[nKeys];
        double mx = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < nKeys; j++) {
            double a = 0;
            for (int p = 0; p < hd; p++) a += q[qOff + p] * k[j][off + p];
            s[j] = a * scale;
            mx = Math.max(mx, s[j]);
        }
        double sum = 0;
        for (int j = 0; j < nKeys; j++) { s[j] = Math.exp(s[j] - mx); sum += s[j]; }
        for (int p = 0; p < hd; p++) {
            double a = 0;
            for (int j = 0; j < nKeys; j++) a += s[j] * v[j][off + p];
            out[outOff + p] = a / sum;
        }
    }

    double[][][] logits(SafetensorsFile kase, double[][] cond, double[][] uncond, int[][] grids) {
        int C = c.width(), H = c.heads(), hd = C / H, T = c.textChannels(), d = c.codebookDim(), V = 2 * d;
        double eps = c.normEps();
        double[][][] text = {cond, uncond};
        int bs = 2;
        // text side
        double[] tnw = w.apply("text_norm.weight");
        double[][] sos = new double[bs][];
        double[][][] mem = new double[bs][][];
        int ph = c.poolHeads(), phd = C / ph;
        double[] mq = w.apply("text_proj_for_sos.ca.mat_q");
        for (int b = 0; b < bs; b++) {
            double[][] t = new double[text[b].length][T];
            for (int i = 0; i < t.length; i++) {
                double ss = 0;
                for (double e : text[b][i]) ss += e * e;
                double inv = 1 / Math.sqrt(ss / T + eps);
                for (int j = 0; j < T; j++) t[i][j] = text[b][i][j] * inv * tnw[j];
            }
            double[][] kv = linear(t, w.apply("text_proj_for_sos.ca.mat_kv.weight"), null, 2 * C);
            double[] vb = w.apply("text_proj_for_sos.ca.v_bias");
            double[][] kk = new double[t.length][C], vv = new double[t.length][C];
            for (int i = 0; i < t.length; i++)
                for (int j = 0; j < C; j++) { kk[i][j] = kv[i][j]; vv[i][j] = kv[i][C + j] + vb[j]; }
            double[] o = new double[C];
            for (int h = 0; h < ph; h++) attend(mq, h * phd, kk, vv, h * phd, phd, t.length, 1 / Math.sqrt(phd), o, h * phd);
            sos[b] = linear(new double[][]{o}, w.apply("text_proj_for_sos.ca.proj.weight"), w.apply("text_proj_for_sos.ca.proj.bias"), C)[0];
            double[][] m1 = linear(t, w.apply("text_proj_for_ca.0.weight"), w.apply("text_proj_for_ca.0.bias"), C);
            for (double[] r : m1) for (int j = 0; j < C; j++) r[j] = gelu(r[j]);
            mem[b] = linear(m1, w.apply("text_proj_for_ca.2.weight"), w.apply("text_proj_for_ca.2.bias"), C);
        }
        double[][] siluSos = new double[bs][C];
        for (int b = 0; b < bs; b++) for (int j = 0; j < C; j++) siluSos[b][j] = silu(sos[b][j]);
        double[][] shared = linear(siluSos, w.apply("shared_ada_lin.1.weight"), w.apply("shared_ada_lin.1.bias"), 6 * C);
        double[][] headMod = linear(siluSos, w.apply("head_nm.ada_lin.1.weight"), w.apply("head_nm.ada_lin.1.bias"), 2 * C);

        // the whole sequence: scale 0 = sos + pos_start, scale k ≥ 1 = word_embed(codes_in_k); + lvl_embed[k]
        int K = grids.length, N = 0;
        int[] scaleOf;
        for (int[] g : grids) N += g[0] * g[1];
        scaleOf = new int[N];
        double[] pos = w.apply("pos_start"), lvl = w.apply("lvl_embed.weight"), we = w.apply("word_embed.weight"), web = w.apply("word_embed.bias");
        double[][][] x = new double[bs][N][];
        int at = 0;
        for (int k = 0; k < K; k++) {
            int l = grids[k][0] * grids[k][1];
            double[][] in;
            if (k == 0) {
                in = null;
            } else {
                double[] ci = kase.get(String.format("s%02d.codes_in", k)).toDoubleArray();
                double[][] rows = new double[l][d];
                for (int t = 0; t < l; t++) System.arraycopy(ci, t * d, rows[t], 0, d);
                in = linear(rows, we, web, C);
            }
            for (int t = 0; t < l; t++) {
                scaleOf[at + t] = k;
                for (int b = 0; b < bs; b++) {
                    double[] r = new double[C];
                    for (int j = 0; j < C; j++) r[j] = (k == 0 ? sos[b][j] + pos[j] : in[t][j]) + lvl[k * C + j];
                    x[b][at + t] = r;
                }
            }
            at += l;
        }
        double[] rope = kase.get("rope.cos_sin").toDoubleArray(); // [2, N, hd/2]
        int P = hd / 2;

        for (int i = 0; i < c.depth(); i++) {
            String p = InfinityWeights.blockPrefix(c, i);
            double[] gss = w.apply(p + "ada_gss"), sm = w.apply(p + "sa.scale_mul_1H11");
            double[] qkvW = w.apply(p + "sa.mat_qkv.weight"), qb = w.apply(p + "sa.q_bias"), vb = w.apply(p + "sa.v_bias");
            for (int b = 0; b < bs; b++) {
                double[][] mod = new double[6][C];
                for (int m = 0; m < 6; m++) for (int j = 0; j < C; j++) mod[m][j] = gss[m * C + j] + shared[b][m * C + j];
                double[][] xb = x[b];
                double[][] h = new double[N][];
                for (int t = 0; t < N; t++) {
                    double[] n = ln(xb[t], eps);
                    for (int j = 0; j < C; j++) n[j] = n[j] * (1 + mod[2][j]) + mod[4][j];
                    h[t] = n;
                }
                double[][] qkv = linear(h, qkvW, null, 3 * C);
                double[][] q = new double[N][C], k = new double[N][C], v = new double[N][C];
                for (int t = 0; t < N; t++) {
                    for (int hh = 0; hh < H; hh++) {
                        double nq = 0, nk = 0;
                        for (int e = 0; e < hd; e++) {
                            double a = qkv[t][hh * hd + e] + qb[hh * hd + e], kk = qkv[t][C + hh * hd + e];
                            nq += a * a; nk += kk * kk;
                        }
                        double sq = Math.exp(Math.min(sm[hh], Math.log(100))) / Math.max(Math.sqrt(nq), 1e-12), sk = 1 / Math.max(Math.sqrt(nk), 1e-12);
                        double[] qh = new double[hd], kh = new double[hd];
                        for (int e = 0; e < hd; e++) { qh[e] = (qkv[t][hh * hd + e] + qb[hh * hd + e]) * sq; kh[e] = qkv[t][C + hh * hd + e] * sk; }
                        for (int pp = 0; pp < P; pp++) {
                            double cs = rope[t * P + pp], sn = rope[N * P + t * P + pp];
                            q[t][hh * hd + 2 * pp] = qh[2 * pp] * cs - qh[2 * pp + 1] * sn;
                            q[t][hh * hd + 2 * pp + 1] = qh[2 * pp] * sn + qh[2 * pp + 1] * cs;
                            k[t][hh * hd + 2 * pp] = kh[2 * pp] * cs - kh[2 * pp + 1] * sn;
                            k[t][hh * hd + 2 * pp + 1] = kh[2 * pp] * sn + kh[2 * pp + 1] * cs;
                        }
                        for (int e = 0; e < hd; e++) v[t][hh * hd + e] = qkv[t][2 * C + hh * hd + e] + vb[hh * hd + e];
                    }
                }
                double[][] o = new double[N][C];
                for (int t = 0; t < N; t++) {
                    int visible = 0;
                    while (visible < N && scaleOf[visible] <= scaleOf[t]) visible++; // block-causal mask
                    for (int hh = 0; hh < H; hh++) attend(q[t], hh * hd, k, v, hh * hd, hd, visible, 1.0, o[t], hh * hd);
                }
                double[][] sa = linear(o, w.apply(p + "sa.proj.weight"), w.apply(p + "sa.proj.bias"), C);
                for (int t = 0; t < N; t++) for (int j = 0; j < C; j++) xb[t][j] += sa[t][j] * mod[0][j];
                // cross-attention to this row's own text
                double[] cw = w.apply(p + "ca_norm.weight"), cb = w.apply(p + "ca_norm.bias");
                double[][] y = new double[N][];
                for (int t = 0; t < N; t++) {
                    double[] n = ln(xb[t], eps);
                    for (int j = 0; j < C; j++) n[j] = n[j] * cw[j] + cb[j];
                    y[t] = n;
                }
                double[][] cq = linear(y, w.apply(p + "ca.mat_q.weight"), w.apply(p + "ca.mat_q.bias"), C);
                double[][] ckv = linear(mem[b], w.apply(p + "ca.mat_kv.weight"), null, 2 * C);
                double[] cvb = w.apply(p + "ca.v_bias");
                double[][] ck = new double[ckv.length][C], cv = new double[ckv.length][C];
                for (int r = 0; r < ckv.length; r++) for (int j = 0; j < C; j++) { ck[r][j] = ckv[r][j]; cv[r][j] = ckv[r][C + j] + cvb[j]; }
                double[][] co = new double[N][C];
                for (int t = 0; t < N; t++)
                    for (int hh = 0; hh < H; hh++) attend(cq[t], hh * hd, ck, cv, hh * hd, hd, ck.length, 1 / Math.sqrt(hd), co[t], hh * hd);
                double[][] ca = linear(co, w.apply(p + "ca.proj.weight"), w.apply(p + "ca.proj.bias"), C);
                for (int t = 0; t < N; t++) for (int j = 0; j < C; j++) xb[t][j] += ca[t][j];
                double[][] f = new double[N][];
                for (int t = 0; t < N; t++) {
                    double[] n = ln(xb[t], eps);
                    for (int j = 0; j < C; j++) n[j] = n[j] * (1 + mod[3][j]) + mod[5][j];
                    f[t] = n;
                }
                double[][] f1 = linear(f, w.apply(p + "ffn.fc1.weight"), w.apply(p + "ffn.fc1.bias"), c.ffnHidden());
                for (double[] r : f1) for (int j = 0; j < r.length; j++) r[j] = gelu(r[j]);
                double[][] f2 = linear(f1, w.apply(p + "ffn.fc2.weight"), w.apply(p + "ffn.fc2.bias"), C);
                for (int t = 0; t < N; t++) for (int j = 0; j < C; j++) xb[t][j] += f2[t][j] * mod[1][j];
            }
        }
        double[][][] out = new double[bs][][];
        for (int b = 0; b < bs; b++) {
            double[][] z = new double[N][];
            for (int t = 0; t < N; t++) {
                double[] n = ln(x[b][t], eps);
                for (int j = 0; j < C; j++) n[j] = n[j] * (1 + headMod[b][j]) + headMod[b][C + j];
                z[t] = n;
            }
            out[b] = linear(z, w.apply("head.weight"), w.apply("head.bias"), V);
        }
        return out;
    }
}
