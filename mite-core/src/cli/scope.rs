//! Which commands use each option, and the heading each is listed under in their help.
//!
//! mite's docopt accepts every option with every command; mite-rs parses them all the same
//! way, but an option given to a command that does not use it is one line and exit 1 (it would
//! otherwise do nothing), and each command's `--help` lists only its own options.

use super::options::{Command, JourneyCommand, ScenarioCommand};

/// The commands, as their help and error lines name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandKind {
    ScenarioTest,
    ScenarioCheck,
    JourneyTest,
    JourneyRun,
    Controller,
    Runner,
    Duplicator,
    Receiver,
    Collector,
    Recorder,
    Stats,
    Exporter,
    Cat,
    Uncat,
    Report,
    DemoApp,
}

use CommandKind::*;

impl CommandKind {
    /// The command's path below `mite`.
    pub fn path(self) -> &'static [&'static str] {
        match self {
            ScenarioTest => &["scenario", "test"],
            ScenarioCheck => &["scenario", "check"],
            JourneyTest => &["journey", "test"],
            JourneyRun => &["journey", "run"],
            Controller => &["controller"],
            Runner => &["runner"],
            Duplicator => &["duplicator"],
            Receiver => &["receiver"],
            Collector => &["collector"],
            Recorder => &["recorder"],
            Stats => &["stats"],
            Exporter => &["prometheus_exporter"],
            Cat => &["cat"],
            Uncat => &["uncat"],
            Report => &["report"],
            DemoApp => &["demo-app"],
        }
    }

    /// `mite scenario test` and so on, as its help's usage line shows it.
    pub fn usage_name(self) -> &'static str {
        match self {
            ScenarioTest => "mite scenario test",
            ScenarioCheck => "mite scenario check",
            JourneyTest => "mite journey test",
            JourneyRun => "mite journey run",
            Controller => "mite controller",
            Runner => "mite runner",
            Duplicator => "mite duplicator",
            Receiver => "mite receiver",
            Collector => "mite collector",
            Recorder => "mite recorder",
            Stats => "mite stats",
            Exporter => "mite prometheus_exporter",
            Cat => "mite cat",
            Uncat => "mite uncat",
            Report => "mite report",
            DemoApp => "mite demo-app",
        }
    }

    pub const ALL: [CommandKind; 16] = [
        ScenarioTest,
        ScenarioCheck,
        JourneyTest,
        JourneyRun,
        Controller,
        Runner,
        Duplicator,
        Receiver,
        Collector,
        Recorder,
        Stats,
        Exporter,
        Cat,
        Uncat,
        Report,
        DemoApp,
    ];
}

impl Command {
    pub fn kind(&self) -> CommandKind {
        match self {
            Command::Scenario(ScenarioCommand::Test { .. }) => ScenarioTest,
            Command::Scenario(ScenarioCommand::Check { .. }) => ScenarioCheck,
            Command::Journey(JourneyCommand::Test { .. }) => JourneyTest,
            Command::Journey(JourneyCommand::Run { .. }) => JourneyRun,
            Command::Controller { .. } => Controller,
            Command::Runner => Runner,
            Command::Duplicator { .. } => Duplicator,
            Command::Receiver { .. } => Receiver,
            Command::Collector => Collector,
            Command::Recorder => Recorder,
            Command::Stats => Stats,
            Command::PrometheusExporter => Exporter,
            Command::Cat { .. } => Cat,
            Command::Uncat => Uncat,
            Command::Report { .. } => Report,
            Command::DemoApp { .. } => DemoApp,
        }
    }
}

/// The headings options are grouped under in a command's help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heading {
    Load,
    Output,
    Distributed,
    General,
}

impl Heading {
    pub fn title(self) -> &'static str {
        match self {
            Heading::Load => "Load",
            Heading::Output => "Output",
            Heading::Distributed => "Distributed",
            Heading::General => "General",
        }
    }
}

/// An option (its long name), its heading, and the commands that use it. An empty list is an
/// option whose command mite-rs does not have yet (it is refused elsewhere, with its reason).
pub struct Scope {
    pub long: &'static str,
    pub heading: Heading,
    pub commands: &'static [CommandKind],
}

const TESTS: &[CommandKind] = &[ScenarioTest, JourneyTest, JourneyRun];
/// The commands that end with a run summary.
const SUMMARIES: &[CommandKind] = &[ScenarioTest, JourneyTest, JourneyRun, Report];
const RUNS: &[CommandKind] = &[ScenarioTest, JourneyTest, JourneyRun, Runner];
const PLANS: &[CommandKind] = &[ScenarioTest, JourneyTest, JourneyRun, Controller];
/// The options that shape a plan, which `scenario check` follows too.
const CHECKED_PLANS: &[CommandKind] = &[
    ScenarioTest,
    ScenarioCheck,
    JourneyTest,
    JourneyRun,
    Controller,
];
const LOOPS: &[CommandKind] = &[
    ScenarioTest,
    ScenarioCheck,
    JourneyTest,
    JourneyRun,
    Controller,
    Runner,
];
const COMPONENTS: &[CommandKind] = &[
    Controller, Runner, Duplicator, Receiver, Collector, Recorder, Stats, Exporter,
];
/// The commands that import the project's Python code (journeys, processors, filters).
const IMPORTS: &[CommandKind] = &[
    ScenarioTest,
    ScenarioCheck,
    JourneyTest,
    JourneyRun,
    Controller,
    Runner,
    Receiver,
    Collector,
    Stats,
];
/// The commands that log (`cat` and `uncat` only print their output and errors).
const LOGGING: &[CommandKind] = &[
    ScenarioTest,
    ScenarioCheck,
    JourneyTest,
    JourneyRun,
    Controller,
    Runner,
    Duplicator,
    Receiver,
    Collector,
    Recorder,
    Stats,
    Exporter,
    DemoApp,
];

macro_rules! scopes {
    ($($long:literal => $heading:ident, $commands:expr;)*) => {
        pub const SCOPES: &[Scope] = &[
            $(Scope { long: $long, heading: Heading::$heading, commands: $commands },)*
        ];
    };
}

scopes! {
    "debugging" => General, RUNS;
    "memory-tracing" => General, RUNS;
    "log-level" => General, LOGGING;
    "exclude-working-directory" => General, IMPORTS;
    "config" => Load, CHECKED_PLANS;
    "add-to-config" => Load, CHECKED_PLANS;
    "spawn-rate" => Load, PLANS;
    "delay-start-seconds" => Load, CHECKED_PLANS;
    "max-loop-delay" => Load, LOOPS;
    "min-loop-delay" => Load, &[ScenarioTest, Runner];
    "runner-max-journeys" => Load, RUNS;
    "volume" => Load, &[JourneyTest];
    "runners" => Load, &[ScenarioTest];
    "grace-period" => Load, RUNS;
    "asyncio-tasks" => Load, RUNS;
    "message-processors" => Output, TESTS;
    "hide-constant-logs" => Output, TESTS;
    "journey-logging" => Output, TESTS;
    "report" => Output, TESTS;
    "quiet" => Output, SUMMARIES;
    "summary-json" => Output, SUMMARIES;
    "html-report" => Output, SUMMARIES;
    "benchmark-percentiles" => Output, TESTS;
    "max-errors-threshold" => Output, TESTS;
    "max-response-time-threshold" => Output, TESTS;
    "mean-response-time-threshold" => Output, TESTS;
    "standard-deviation-response-time-threshold" => Output, TESTS;
    "standard-deviation-req-sec-threshold" => Output, TESTS;
    "prometheus-address" => Output, TESTS;
    "collector-dir" => Output, &[ScenarioTest, JourneyTest, JourneyRun, Collector];
    "collector-filter" => Output, &[ScenarioTest, JourneyTest, JourneyRun, Collector];
    "collector-roll" => Output, &[ScenarioTest, JourneyTest, JourneyRun, Collector];
    "collector-use-json" => Output, &[ScenarioTest, JourneyTest, JourneyRun, Collector];
    "recorder-dir" => Output, &[ScenarioTest, JourneyTest, JourneyRun, Recorder];
    "prettify-timestamps" => Output, &[Cat];
    "sleep-time" => Output, &[];
    "controller-socket" => Distributed, &[Controller, Runner];
    "message-socket" => Distributed, &[Controller, Runner, Duplicator];
    "collector-socket" => Distributed, &[Collector];
    "recorder-socket" => Distributed, &[Recorder];
    "stats-in-socket" => Distributed, &[Stats];
    "stats-out-socket" => Distributed, &[Stats, Exporter];
    "stats-include-processors" => Distributed, &[ScenarioTest, JourneyTest, JourneyRun, Stats];
    "stats-exclude-processors" => Distributed, &[ScenarioTest, JourneyTest, JourneyRun, Stats];
    "web-address" => Distributed, &[Exporter];
    "message-backend" => Distributed, COMPONENTS;
    "logging-webhook" => Distributed, &[Controller];
}

pub fn scope(long: &str) -> Option<&'static Scope> {
    SCOPES.iter().find(|s| s.long == long)
}

/// `a`, `a and b`, `a, b and c`, with `journey test` and `journey run` as `journey test|run`.
fn command_list(commands: &[CommandKind]) -> String {
    let mut names: Vec<String> = Vec::new();
    for &kind in commands {
        if kind == JourneyRun && commands.contains(&JourneyTest) {
            continue;
        }
        names.push(if kind == JourneyTest && commands.contains(&JourneyRun) {
            "journey test|run".to_owned()
        } else {
            kind.path().join(" ")
        });
    }
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The line for the first of `given` (long names) that `command` does not use.
pub fn misplaced_option<'a>(
    command: CommandKind,
    given: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    given.into_iter().find_map(|long| {
        let scope = scope(long)?;
        if scope.commands.is_empty() || scope.commands.contains(&command) {
            return None;
        }
        Some(format!(
            "--{long} applies to {} only",
            command_list(scope.commands)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_of_other_commands_is_one_line_naming_them() {
        assert_eq!(
            misplaced_option(Stats, ["log-level", "volume"]).as_deref(),
            Some("--volume applies to journey test only")
        );
        assert_eq!(
            misplaced_option(Cat, ["prometheus-address"]).as_deref(),
            Some("--prometheus-address applies to scenario test and journey test|run only")
        );
        assert_eq!(
            misplaced_option(Duplicator, ["controller-socket"]).as_deref(),
            Some("--controller-socket applies to controller and runner only")
        );
        assert_eq!(
            misplaced_option(Recorder, ["collector-dir"]).as_deref(),
            Some("--collector-dir applies to scenario test, journey test|run and collector only")
        );
        assert_eq!(
            misplaced_option(Runner, ["grace-period", "log-level"]),
            None
        );
        // Options of commands mite-rs does not have are refused with their own reason.
        assert_eq!(misplaced_option(Runner, ["sleep-time"]), None);
    }
}
