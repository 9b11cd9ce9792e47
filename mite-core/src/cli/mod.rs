//! The `mite` command line: mite's commands and options (spec §3.1-§3.2), parsed with clap.
//!
//! As with mite's `[options]`, every option is parsed with every command; one given to a
//! command that does not use it is one line and exit 1 ([`scope`]), and each command's help
//! lists only its own options. Parsing is pure Rust; running a command needs Python and lives
//! in the bindings.

mod config_pairs;
mod journey_scenario;
mod options;
pub mod scope;

pub use config_pairs::{config_pairs, ConfigPairError};
pub use journey_scenario::{journey_scenario, JourneyFeed, JourneyScenario};
pub use options::{
    Command, JourneyCommand, Num, OptionValue, Options, RunnerCount, ScenarioCommand,
};

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser};

use scope::{scope, CommandKind};

/// mite-rs: the mite load tester on a Rust core.
#[derive(Debug, Parser)]
#[command(
    name = "mite",
    version,
    about = "mite-rs: the mite load tester on a Rust core",
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub options: Options,
}

/// What parsing the command line gave: a command to run, or text to print and an exit code.
pub enum Parsed {
    Run(Box<Cli>),
    Exit {
        text: String,
        code: i32,
        to_stderr: bool,
    },
}

/// The help `argv` asks for (`-h`/`--help`): for a command, its own arguments and only the
/// options it uses, under their headings; above the commands, the commands alone.
fn help(argv: &[String]) -> Option<String> {
    if !argv.iter().skip(1).any(|a| a == "-h" || a == "--help") {
        return None;
    }
    let words: Vec<&str> = argv
        .iter()
        .skip(1)
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let root = Cli::command();
    let kind = CommandKind::ALL
        .into_iter()
        .find(|kind| words.starts_with(kind.path()));
    let Some(kind) = kind else {
        // `mite --help`, `mite scenario --help`: the commands, without the options.
        let mut cmd = root.after_help("Each command's options: mite COMMAND --help");
        for (id, _) in scoped_ids(&cmd) {
            cmd = cmd.mut_arg(id, |a| a.hide(true));
        }
        return match cmd.try_get_matches_from(argv) {
            Err(e) => Some(e.render().to_string()),
            Ok(_) => None,
        };
    };
    let mut sub = &root;
    for name in kind.path() {
        sub = sub.find_subcommand(name)?;
    }
    let mut cmd = clap::Command::new(kind.usage_name())
        .disable_help_subcommand(true)
        .args(sub.get_arguments().cloned());
    if let Some(about) = sub.get_about() {
        cmd = cmd.about(about.clone());
    }
    for arg in root.get_arguments() {
        let Some(scope) = arg.get_long().and_then(scope) else {
            continue;
        };
        if scope.commands.contains(&kind) {
            cmd = cmd.arg(
                arg.clone()
                    .global(false)
                    .help_heading(scope.heading.title()),
            );
        }
    }
    Some(cmd.render_help().to_string())
}

/// The ids and long names of `cmd`'s options that [`scope`] knows.
fn scoped_ids(cmd: &clap::Command) -> Vec<(clap::Id, String)> {
    cmd.get_arguments()
        .filter_map(|a| Some((a.get_id().clone(), a.get_long()?.to_owned())))
        .filter(|(_, long)| scope(long).is_some())
        .collect()
}

/// Parses `argv` (program name first). Usage errors exit 1, as mite's docopt does.
pub fn parse(argv: &[String]) -> Parsed {
    let usage_error = |e: clap::Error| {
        let code = if e.use_stderr() { 1 } else { 0 };
        Parsed::Exit {
            text: e.render().to_string(),
            code,
            to_stderr: e.use_stderr(),
        }
    };
    if let Some(text) = help(argv) {
        return Parsed::Exit {
            text,
            code: 0,
            to_stderr: false,
        };
    }
    let mut cmd = Cli::command();
    let matches = match cmd.try_get_matches_from_mut(argv) {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e.format(&mut cmd)),
    };
    // The global options given land in the innermost command's matches.
    let mut innermost = &matches;
    while let Some((_, sub)) = innermost.subcommand() {
        innermost = sub;
    }
    let given: Vec<String> = innermost
        .ids()
        .filter(|id| innermost.value_source(id.as_str()) == Some(ValueSource::CommandLine))
        .map(|id| id.as_str().replace('_', "-"))
        .collect();
    if let Some(line) =
        scope::misplaced_option(cli.command.kind(), given.iter().map(String::as_str))
    {
        return Parsed::Exit {
            text: format!("mite: error: {line}\n"),
            code: 1,
            to_stderr: true,
        };
    }
    Parsed::Run(Box::new(cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    fn run(line: &str) -> Cli {
        match parse(&args(line)) {
            Parsed::Run(cli) => *cli,
            Parsed::Exit { text, .. } => panic!("{line}: {text}"),
        }
    }

    #[test]
    fn scenario_test_takes_a_spec_and_options_anywhere() {
        let cli =
            run("mite --spawn-rate=50 scenario test m:s --add-to-config=a:b --add-to-config c:d");
        match cli.command {
            Command::Scenario(ScenarioCommand::Test { spec }) => assert_eq!(spec, "m:s"),
            other => panic!("{other:?}"),
        }
        assert_eq!(cli.options.spawn_rate, 50.0);
        assert_eq!(cli.options.add_to_config, ["a:b", "c:d"]);
    }

    #[test]
    fn defaults_are_mites_except_the_recorder_directory() {
        let cli = run("mite journey test m:j");
        let o = &cli.options;
        assert_eq!(o.volume, 1.0);
        assert_eq!(o.max_loop_delay, 1.0);
        assert_eq!(o.delay_start_seconds, 0.0);
        assert_eq!(o.log_level, "INFO");
        assert_eq!(o.config, "mite.config:default_config_loader");
        assert_eq!(o.collector_dir, "collector_data");
        assert_eq!(o.collector_roll, 100_000);
        assert_eq!(o.recorder_dir, "recorder-data");
        assert_eq!(o.max_errors_threshold, "0");
        assert_eq!(
            o.message_processors,
            "mite.logoutput:HttpStatsOutput,mite.logoutput:MsgOutput"
        );
    }

    #[test]
    fn journey_commands_take_an_optional_datapool() {
        match run("mite journey run m:j m:pool").command {
            Command::Journey(JourneyCommand::Run { journey, datapool }) => {
                assert_eq!(journey, "m:j");
                assert_eq!(datapool.as_deref(), Some("m:pool"));
            }
            other => panic!("{other:?}"),
        }
        match run("mite journey test m:j --volume=2.5").command {
            Command::Journey(JourneyCommand::Test { datapool, .. }) => assert!(datapool.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_exit_1_and_version_exits_0() {
        match parse(&args("mite scenario")) {
            Parsed::Exit {
                code, to_stderr, ..
            } => assert_eq!((code, to_stderr), (1, true)),
            Parsed::Run(_) => panic!("parsed"),
        }
        match parse(&args("mite --version")) {
            Parsed::Exit { code, text, .. } => {
                assert_eq!(code, 0);
                assert!(text.contains(env!("CARGO_PKG_VERSION")));
            }
            Parsed::Run(_) => panic!("parsed"),
        }
        match parse(&args("mite scenario test m:s --volume=lots")) {
            Parsed::Exit { code, .. } => assert_eq!(code, 1),
            Parsed::Run(_) => panic!("parsed"),
        }
    }

    #[test]
    fn runners_are_a_positive_number_or_auto() {
        assert_eq!(run("mite scenario test m:s").options.runners.count(), 1);
        assert_eq!(
            run("mite scenario test m:s --runners=3")
                .options
                .runners
                .count(),
            3
        );
        let auto = run("mite scenario test m:s --runners auto").options.runners;
        assert_eq!(auto, RunnerCount::Auto);
        assert!(auto.count() >= 1);
        for bad in ["0", "-1", "two"] {
            match parse(&args(&format!("mite scenario test m:s --runners={bad}"))) {
                Parsed::Exit { code, text, .. } => {
                    assert_eq!(code, 1);
                    assert!(text.contains("number of runners"), "{text}");
                }
                Parsed::Run(_) => panic!("--runners={bad} parsed"),
            }
        }
    }

    #[test]
    fn docopt_dict_has_every_option_with_its_value() {
        let cli = run("mite scenario test m:s --hide-constant-logs --collector-roll=5");
        let dict = cli.options.docopt_dict();
        let get = |k: &str| {
            dict.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("--hide-constant-logs"),
            Some(options::OptionValue::Flag(true))
        );
        assert_eq!(
            get("--collector-roll"),
            Some(options::OptionValue::Text("5".into()))
        );
        assert_eq!(
            get("--runner-max-journeys"),
            Some(options::OptionValue::None)
        );
    }

    #[test]
    fn every_option_has_a_scope_and_a_description() {
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long == "help" || long == "version" {
                continue;
            }
            assert!(scope(long).is_some(), "--{long} has no scope");
            assert!(arg.get_help().is_some(), "--{long} has no description");
        }
    }

    fn exit_text(line: &str) -> (String, i32) {
        match parse(&args(line)) {
            Parsed::Exit { text, code, .. } => (text, code),
            Parsed::Run(_) => panic!("{line}: ran"),
        }
    }

    #[test]
    fn an_option_given_to_a_command_that_does_not_use_it_is_one_line() {
        let (text, code) = exit_text("mite stats --volume=3");
        assert_eq!(text, "mite: error: --volume applies to journey test only\n");
        assert_eq!(code, 1);
        // Before the command as well as after it.
        let (text, _) = exit_text("mite --collector-dir=x runner");
        assert!(text.contains("--collector-dir applies to"), "{text}");
        // Defaults are not "given".
        run("mite stats");
        run("mite runner --grace-period=3 --log-level=DEBUG");
    }

    #[test]
    fn a_commands_help_lists_its_own_options_under_headings() {
        let (text, code) = exit_text("mite runner --help");
        assert_eq!(code, 0, "{text}");
        for expected in [
            "--controller-socket",
            "--grace-period",
            "Load:",
            "Distributed:",
        ] {
            assert!(text.contains(expected), "{expected} missing from\n{text}");
        }
        for other in ["--volume", "--collector-dir", "--report", "Output:"] {
            assert!(!text.contains(other), "{other} in\n{text}");
        }
        let (text, _) = exit_text("mite --help");
        assert!(
            text.contains("prometheus_exporter") && !text.contains("--spawn-rate"),
            "{text}"
        );
        let (text, _) = exit_text("mite scenario test --help");
        assert!(
            text.contains("--report") && text.contains("--runners"),
            "{text}"
        );
        assert!(!text.contains("--web-address"), "{text}");
    }
}
