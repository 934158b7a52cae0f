package dev.infinityj.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The GFLOPS counter the kernel benchmarks share: a benchmark method takes it as a parameter and
 * adds its 10⁹ floating-point operations per call to {@link #gflop}; JMH reports the counter per
 * second as the secondary result {@code <method>:gflop}, i.e. GFLOPS.
 */
@State(Scope.Thread)
@AuxCounters(AuxCounters.Type.OPERATIONS)
public class GflopCounter {
    /** Accumulated 10⁹ floating-point operations in this iteration. */
    public double gflop;

    @Setup(Level.Iteration)
    public void reset() { gflop = 0; }
}
