package dev.infinityj.model;

import dev.infinityj.backend.CpuBackend;
import dev.infinityj.io.WeightSource;
import dev.infinityj.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Teacher-forced conformance on the official-code fixtures (logits vs *.f64_nobf16, latent after every scale). */
class InfinityFixtureTest {

    @ParameterizedTest
    @ValueSource(strings = {"infinity-tiny-a", "infinity-tiny-b", "infinity-tiny-bf16"})
    void teacherForcedMatchesOfficialAtEveryScale(String name) {
        Path dir = Fixtures.dir(name);
        try (WeightSource w = FixtureWeights.open(dir)) {
            FixtureCheck.Report r = FixtureCheck.run(dir, w, new CpuBackend(), null);
            for (FixtureCheck.ScaleErr e : r.scales())
                System.out.printf("%s s%02d %s cond %.3g/%.3g uncond %s cfg %.3g/%.3g latent %.3g%n", name, e.scale(), e.grid(),
                        e.cond().maxAbs(), e.cond().meanAbs(), e.uncond() == null ? "-" : String.format("%.3g/%.3g", e.uncond().maxAbs(), e.uncond().meanAbs()),
                        e.cfg().maxAbs(), e.cfg().meanAbs(), e.latent().maxAbs());
            assertEquals(7, r.scales().size());
            assertEquals(java.util.List.of(), r.failures(), name);
        }
    }
}
