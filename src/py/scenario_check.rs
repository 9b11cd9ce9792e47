//! `mite scenario check SPEC`: everything a run would find wrong before its first journey,
//! without running one. The config and the scenario function run as in `scenario test`;
//! then each scenario's shape, its journey (async, and able to take its datapool's items)
//! and its volume model's plan over time are checked. Each problem is one line; the exit
//! code is 1 if there was any.

use pyo3::prelude::*;
use pyo3::types::PyTuple;

use super::command_support::{import_spec, Fatal};
use super::controller::ScenarioSpec;
use super::datapools::{IterableDataPool, RecyclableIterableDataPool, SingleRunDataPool};
use super::scenario_loading::{
    build_config, call_scenario, read_scenario, scenario_items, short_repr,
};
use super::sink::MessageSink;
use super::volume::PyVolumeModel;
use crate::errors::one_line;
use mite_core::bus::Bus;
use mite_core::cli::Options;
use mite_core::engine::{plan_volume, sparkline, Plan, SchedulerConfig};

/// How far a volume model that never stops is followed.
const HORIZON_SECONDS: f64 = 24.0 * 3600.0;
/// Columns of a plan's line.
const PLOT_WIDTH: usize = 60;

/// Runs the check; prints the plan to stdout and one `mite: error:` line per problem.
pub fn run(py: Python<'_>, spec: &str, options: &Options) -> Result<i32, Fatal> {
    let config = build_config(py, options)?;
    let function = import_spec(py, spec, "scenario spec")?;
    // What the scenario function sends goes nowhere: nothing runs.
    let bus = Bus::start(Vec::new())
        .map_err(|e| Fatal::Message(format!("cannot start the message bus: {e}")))?;
    let sink = Bound::new(py, MessageSink::new(bus.sender(), Vec::new(), Vec::new()))
        .map_err(|e| Fatal::Message(one_line(py, &e)))?;
    let result = call_scenario(py, spec, &function, &config, &sink)?;
    let items = scenario_items(py, spec, &result)?;
    let scheduler = SchedulerConfig {
        start_delay: options.delay_start_seconds.value,
        period: options.max_loop_delay.value.max(0.001),
        spawn_rate: None,
    };
    let mut problems = Vec::new();
    let mut plans = Vec::new();
    if items.is_empty() {
        problems.push(format!(
            "scenario '{spec}' has no scenarios: nothing would run"
        ));
    }
    for (n, item) in items.iter().enumerate() {
        let scenario = match read_scenario(py, spec, n, item) {
            Ok(scenario) => scenario,
            Err(Fatal::Message(problem)) => {
                problems.push(problem);
                continue;
            }
            Err(Fatal::Interrupted) => return Err(Fatal::Interrupted),
        };
        let label = format!("scenario {} ({})", n + 1, scenario.journey_spec);
        let journey = check_journey(py, &scenario, &label, &mut problems);
        println!("{label}");
        println!("  journey      {journey}");
        match plan_volume(
            PyVolumeModel::new(scenario.volume_model.clone_ref(py)),
            scheduler,
            HORIZON_SECONDS,
        ) {
            Ok(plan) => {
                print_plan(&plan, scheduler.period);
                plans.push(plan);
            }
            Err(e) => problems.push(format!(
                "{label}: the volume model failed at {}: {}",
                duration_text(e.at),
                one_line(py, &e.error)
            )),
        }
    }
    drop(bus.stop());
    if !plans.is_empty() {
        let ends = plans
            .iter()
            .map(|p| p.ends_at)
            .collect::<Option<Vec<f64>>>();
        let peak: u64 = plans.iter().map(Plan::peak).sum();
        match ends {
            Some(ends) => println!(
                "the run: {} scenario(s), about {}, at most {peak} journeys at once",
                plans.len(),
                duration_text(ends.iter().copied().fold(0.0, f64::max) + scheduler.start_delay)
            ),
            None => println!(
                "the run: {} scenario(s), until stopped (a volume model has no end), at most \
                 {peak} journeys at once in the first {}h",
                plans.len(),
                HORIZON_SECONDS / 3600.0
            ),
        }
    }
    for problem in &problems {
        eprintln!("mite: error: {problem}");
    }
    Ok(i32::from(!problems.is_empty()))
}

/// A rate for people: `12.5`, `1,000`.
fn rate_text(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{:.0}", rate)
    } else {
        let text = format!("{rate:.1}");
        text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
    }
}

/// Seconds for people: `6s`, `0.5s`, `24 min`, `3.5 h`.
fn duration_text(seconds: f64) -> String {
    let round = |x: f64| {
        let text = format!("{x:.1}");
        text.strip_suffix(".0").map_or(text.clone(), str::to_owned)
    };
    if seconds < 120.0 {
        format!("{}s", round(seconds))
    } else if seconds < 7200.0 {
        format!("{} min", round(seconds / 60.0))
    } else {
        format!("{} h", round(seconds / 3600.0))
    }
}

fn print_plan(plan: &Plan, period: f64) {
    let levels: Vec<u64> = plan.levels.iter().map(|&(_, n)| n).collect();
    let length = match plan.ends_at {
        Some(end) => format!("ends after {}", duration_text(end)),
        None => format!("no end within {}h", HORIZON_SECONDS / 3600.0),
    };
    if !plan.rates.is_empty() {
        println!(
            "  arrivals     {length}, about {} starts, up to {}/s, at most {} journeys at once",
            plan.starts.round(),
            rate_text(plan.peak_rate()),
            plan.max_journeys
        );
        // Rates in thousandths, so that fractional rates still plot.
        let rates: Vec<u64> = plan
            .rates
            .iter()
            .map(|&(_, r)| (r * 1000.0).round() as u64)
            .collect();
        let per_column = (rates.len() as f64 / PLOT_WIDTH as f64).ceil().max(1.0) * period;
        println!(
            "  starts/s     |{}|  ({} a column)",
            sparkline(&rates, PLOT_WIDTH),
            duration_text(per_column)
        );
        if levels.iter().all(|&n| n == 0) {
            return;
        }
    }
    println!("  volume       {length}, at most {} journeys", plan.peak());
    if !levels.is_empty() {
        let per_column = (levels.len() as f64 / PLOT_WIDTH as f64).ceil().max(1.0) * period;
        println!(
            "  over time    |{}|  ({} a column)",
            sparkline(&levels, PLOT_WIDTH),
            duration_text(per_column)
        );
    }
}

/// Checks that the journey is async and takes an item of its datapool; returns what it
/// found, for the listing.
fn check_journey(
    py: Python<'_>,
    scenario: &ScenarioSpec,
    label: &str,
    problems: &mut Vec<String>,
) -> String {
    let journey = scenario.journey.bind(py);
    let is_async = py
        .import("asyncio")
        .and_then(|a| a.call_method1("iscoroutinefunction", (journey,)))
        .and_then(|r| r.is_truthy())
        .unwrap_or(false)
        || py
            .import("inspect")
            .and_then(|i| {
                let unwrapped = i.call_method1("unwrap", (journey,))?;
                i.call_method1("iscoroutinefunction", (unwrapped,))
            })
            .and_then(|r| r.is_truthy())
            .unwrap_or(false);
    if !is_async {
        problems.push(format!(
            "{label}: the journey is not an async function (`async def`)"
        ));
    }
    let (arguments, about) = match sample_item(py, scenario) {
        Sample::NoDatapool => (Some(PyTuple::empty(py)), "no datapool".to_owned()),
        Sample::Item(args, pool) => {
            let about = format!("{pool}, items of {} value(s)", args.len());
            (Some(args), about)
        }
        Sample::Empty(pool) => {
            problems.push(format!(
                "{label}: the datapool ({pool}) is empty: no journey would start"
            ));
            (None, pool)
        }
        Sample::NotSampled(pool) => (None, format!("{pool} (items not checked out here)")),
        Sample::Failed(pool, why) => {
            problems.push(format!("{label}: the datapool ({pool}) failed: {why}"));
            (None, pool)
        }
    };
    if let Some(arguments) = arguments {
        if let Err(why) = takes(py, journey, &arguments) {
            problems.push(format!(
                "{label}: the journey cannot take ctx and {}: {why}",
                if arguments.is_empty() {
                    "nothing else (no datapool)".to_owned()
                } else {
                    format!("an item of its datapool, {}", short_repr(&arguments))
                }
            ));
        }
    }
    format!(
        "{}{}, {about}",
        scenario.journey_spec,
        if is_async { "" } else { " (not async)" }
    )
}

/// Whether `journey(ctx, *arguments)` binds to the journey's signature.
fn takes(
    py: Python<'_>,
    journey: &Bound<'_, PyAny>,
    arguments: &Bound<'_, PyTuple>,
) -> Result<(), String> {
    let inspect = py.import("inspect").map_err(|e| one_line(py, &e))?;
    let Ok(signature) = inspect.call_method1("signature", (journey,)) else {
        return Ok(()); // a builtin without a signature: nothing to check against
    };
    let mut call = vec![py.None().into_bound(py)];
    call.extend(arguments.iter());
    let call = PyTuple::new(py, call).map_err(|e| one_line(py, &e))?;
    signature
        .call_method1("bind", call)
        .map(drop)
        .map_err(|e| e.value(py).to_string())
}

enum Sample<'py> {
    NoDatapool,
    /// An item's values (the journey's arguments after `ctx`) and the pool's type.
    Item(Bound<'py, PyTuple>, String),
    Empty(String),
    /// A datapool of the user's own, checked out only while running (it may be async or
    /// have side effects).
    NotSampled(String),
    Failed(String, String),
}

/// One item of the scenario's datapool, taken from mite's own pools: a recyclable pool's
/// item goes back at once, the others are used up (nothing runs after a check).
fn sample_item<'py>(py: Python<'py>, scenario: &ScenarioSpec) -> Sample<'py> {
    let Some(pool) = &scenario.datapool else {
        return Sample::NoDatapool;
    };
    let pool = pool.bind(py);
    let kind = pool
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    let taken = if let Ok(recyclable) = pool.cast::<RecyclableIterableDataPool>() {
        recyclable.get().try_checkout(py).map(|item| {
            item.map(|(index, data)| {
                let _ = recyclable.get().checkin_index(index);
                data
            })
        })
    } else if let Ok(iterable) = pool.cast::<IterableDataPool>() {
        iterable
            .get()
            .next_item(py)
            .map(|item| item.map(|(_, data)| data))
    } else if let Ok(single) = pool.cast::<SingleRunDataPool>() {
        match single.try_borrow_mut() {
            Ok(mut single) => single.take(py).map(|item| item.map(|(_, data)| data)),
            Err(_) => return Sample::NotSampled(kind),
        }
    } else {
        return Sample::NotSampled(kind);
    };
    match taken {
        Ok(Some(data)) => match data.bind(py).try_iter().and_then(|values| {
            let values: Vec<Bound<'py, PyAny>> = values.collect::<PyResult<_>>()?;
            PyTuple::new(py, values)
        }) {
            // The runner calls `journey(ctx, *item)`.
            Ok(args) => Sample::Item(args, kind),
            Err(_) => Sample::Failed(
                kind,
                format!(
                    "its item {} is not a tuple of the journey's arguments",
                    short_repr(data.bind(py))
                ),
            ),
        },
        Ok(None) => Sample::Empty(kind),
        Err(e) => Sample::Failed(kind, one_line(py, &e)),
    }
}
