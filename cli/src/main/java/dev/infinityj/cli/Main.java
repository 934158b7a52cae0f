package dev.infinityj.cli;

import dev.infinityj.InfinityjException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;

/** Entry point of the {@code infinityj} command. */
@Command(name = "infinityj",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Pure-Java inference engine for Infinity (bitwise visual autoregressive text-to-image).",
        subcommands = {
                CommandLine.HelpCommand.class,
                CheckFixtureCommand.class,
                ConvertCommand.class,
                GenerateCommand.class,
                InspectCommand.class,
                TokenizeCommand.class,
                TokenizeTextCommand.class,
                ReconstructCommand.class,
                BenchCommand.class,
        })
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the command line with infinityj's error handling: typed errors become one line + exit 1. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            if (ex instanceof InfinityjException) {
                err.println("infinityj: error: " + ex.getMessage());
                return 1;
            }
            err.println("infinityj: internal error: " + ex);
            if (System.getenv("INFINITYJ_DEBUG") != null) ex.printStackTrace(err);
            else err.println("(set INFINITYJ_DEBUG=1 for a stack trace)");
            return 2;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("infinityj: error: " + ex.getMessage());
            err.println("Try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help' for usage.");
            return 2;
        });
        return cl;
    }

    public static void main(String[] args) {
        int code;
        try {
            code = commandLine().execute(args);
        } catch (OutOfMemoryError e) {
            // tensors are native memory: the JVM's direct-memory cap or the machine ran out
            System.err.println("infinityj: error: out of memory (" + e.getMessage() + "); tensors live outside the Java heap: "
                    + "free memory, use a smaller --pn or preset, or raise the cap with JAVA_OPTS=-XX:MaxDirectMemorySize=<size> (bin/infinityj sets 65% of RAM)");
            code = 1;
        }
        System.exit(code);
    }
}
