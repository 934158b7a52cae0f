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
        System.exit(commandLine().execute(args));
    }
}
