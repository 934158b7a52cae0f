package dev.infinityj.model;

import dev.infinityj.io.Checkpoints;
import dev.infinityj.io.WeightSource;

import java.nio.file.Path;

/** A fixture's transformer weights, read straight from its model.pth. */
final class FixtureWeights {
    private FixtureWeights() {}

    static WeightSource open(Path dir) { return Checkpoints.open(dir.resolve("model.pth")); }
}
