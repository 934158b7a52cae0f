package dev.infinityj.cli;

import dev.infinityj.text.SentencePieceTokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code infinityj tokenize-text}: the T5 token ids Infinity would feed the text encoder ({@code tokenize} is image → bits). */
@Command(name = "tokenize-text", mixinStandardHelpOptions = true,
        description = "Print the T5 token ids of each prompt (pieces + EOS, truncated to 512 as Infinity does).")
public final class TokenizeTextCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--tokenizer", required = true, paramLabel = "PATH",
            description = "A Flan-T5 folder, its spiece.model or tokenizer.json.")
    Path tokenizer;

    @Option(names = "--pieces", description = "Also print the SentencePiece pieces (plain sentencepiece segmentation).")
    boolean pieces;

    @Parameters(arity = "1..*", paramLabel = "TEXT", description = "Prompt(s).")
    List<String> texts;

    @Override
    public Integer call() {
        SentencePieceTokenizer t = SentencePieceTokenizer.load(tokenizer);
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        for (String text : texts) {
            SentencePieceTokenizer.Encoding e = t.encodeWithInfo(text);
            if (e.truncated())
                err.println("infinityj: warning: prompt has " + e.untruncatedLength() + " tokens; truncated to "
                        + t.maxLength() + " (incl. EOS) as Infinity does");
            StringBuilder b = new StringBuilder();
            for (int id : e.ids()) b.append(b.isEmpty() ? "" : " ").append(id);
            out.println(b);
            if (pieces) out.println(String.join(" ", t.encodeAsPieces(text)));
        }
        out.flush();
        err.flush();
        return 0;
    }
}
