//! The `mite` command line: mite's commands and options (spec §3.1-§3.2), parsed with clap.
//!
//! As with mite's `[options]`, every option is accepted by every command. Parsing is pure
//! Rust; running a command needs Python and lives in the bindings.

mod config_pairs;
mod journey_scenario;
mod options;

pub use config_pairs::{config_pairs, ConfigPairError};
pub use journey_scenario::{journey_scenario, JourneyFeed, JourneyScenario};
pub use options::{
    Command, JourneyCommand, Num, OptionValue, Options, RunnerCount, ScenarioCommand,
};

use clap::Parser;

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

/// Parses `argv` (program name first). Usage errors exit 1, as mite's docopt does.
pub fn parse(argv: &[String]) -> Parsed {
    match Cli::try_parse_from(argv) {
        Ok(cli) => Parsed::Run(Box::new(cli)),
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            Parsed::Exit {
                text: e.render().to_string(),
                code,
                to_stderr: e.use_stderr(),
            }
        }
    }
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
}
