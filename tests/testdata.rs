//! Runs ndbsniff on every capture in testdata/ and checks it two ways: against the verdicts
//! MANIFEST.tsv promises, and line by line against the reviewed expected output beside it:
//! `<file>.expected.json` (standard output with `--format json`) and `<file>.expected.txt`
//! (standard output in the default text format followed by its standard error: the summary,
//! then the lines the JSON run writes to standard error, with the JSON run's exit status). Both runs use `--threads 1` and the path relative to the project root, so nothing
//! in the expected output depends on the machine.
//!
//! After a reviewed change of output, regenerate both expectations with
//! `NDBSNIFF_BLESS=1 cargo test --release --test testdata`.

mod common;

use std::collections::BTreeMap;

struct Case {
    file: String,
    args: Vec<String>,
    expect: String,
}

fn manifest() -> Vec<Case> {
    let text = std::fs::read_to_string(common::root().join("testdata/MANIFEST.tsv"))
        .expect("read testdata/MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("MANIFEST.tsv has no {name} column"))
    };
    let (f, a, e) = (col("file"), col("args"), col("expect"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            let cell = |i: usize| cells.get(i).copied().unwrap_or("").trim().to_string();
            Case {
                file: cell(f),
                args: cell(a).split_whitespace().map(String::from).collect(),
                expect: cell(e),
            }
        })
        .collect()
}

fn run_case(case: &Case) -> common::Run {
    let path = format!("testdata/{}", case.file);
    let mut args: Vec<&str> = vec!["-r", &path, "--format", "json", "--threads", "1"];
    args.extend(case.args.iter().map(String::as_str));
    common::ndbsniff(&args)
}

/// Runs one case in the default (text) format with one flow thread.
fn run_text(case: &Case) -> common::Run {
    let path = format!("testdata/{}", case.file);
    let mut args: Vec<&str> = vec!["-r", &path, "--threads", "1"];
    args.extend(case.args.iter().map(String::as_str));
    common::ndbsniff(&args)
}

/// Where two outputs first differ: the line number, a few lines of each from there, and both
/// line counts.
fn diff_excerpt(expected: &str, got: &str) -> String {
    let want: Vec<&str> = expected.lines().collect();
    let have: Vec<&str> = got.lines().collect();
    let first = (0..want.len().max(have.len()))
        .find(|&i| want.get(i) != have.get(i))
        .unwrap_or(0);
    let show = |lines: &[&str]| -> String {
        let from = first.saturating_sub(1);
        let mut out: String = lines
            .iter()
            .enumerate()
            .skip(from)
            .take(5)
            .map(|(i, l)| format!("    {:>4} | {l}\n", i + 1))
            .collect();
        if first >= lines.len() {
            out.push_str(&format!("    {:>4} | <end of output>\n", lines.len() + 1));
        }
        out
    };
    let mut excerpt = format!(
        "  first difference at line {} (expected {} lines, got {})\n  expected:\n{}  got:\n{}",
        first + 1,
        want.len(),
        have.len(),
        show(&want),
        show(&have)
    );
    if want == have {
        // Same lines, so the difference is in line endings or the final newline.
        excerpt = "  the lines are equal; the line endings or the final newline differ".to_string();
    }
    excerpt
}

/// Compares `got` with the reviewed `testdata/<file><suffix>` (or writes it when blessing);
/// returns a description of what is wrong.
fn check_expected(case: &Case, suffix: &str, got: &str, bless: bool) -> Result<(), String> {
    let path = common::root().join(format!("testdata/{}{suffix}", case.file));
    if bless {
        std::fs::write(&path, got).expect("write expected output");
        return Ok(());
    }
    match std::fs::read_to_string(&path) {
        Err(_) => Err(format!(
            "{}: no {} (review the output, then NDBSNIFF_BLESS=1 cargo test --release --test testdata)",
            case.file,
            path.display()
        )),
        Ok(expected) if expected != got => Err(format!(
            "{}: output differs from testdata/{}{suffix}\n{}",
            case.file,
            case.file,
            diff_excerpt(&expected, got)
        )),
        Ok(_) => Ok(()),
    }
}

/// Checks the verdicts the manifest promises; returns a description of what is wrong.
fn check_manifest(case: &Case, run: &common::Run) -> Result<(), String> {
    let flows = run.flows();
    let mut by_verdict: BTreeMap<String, usize> = BTreeMap::new();
    for f in &flows {
        *by_verdict
            .entry(f["verdict"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let code = run.code();
    let fail = |why: String| Err(format!("{}: {why}\n{}", case.file, run.describe()));
    match case.expect.as_str() {
        "error" => {
            if code != Some(2) || !flows.is_empty() {
                return fail("expected exit 2 and no flows".into());
            }
        }
        "partial" => {
            if code != Some(1) || flows.is_empty() {
                return fail("expected exit 1 with flows reported".into());
            }
        }
        "ndb-mgm" | "unknown" => {
            if code != Some(0) || flows.is_empty() {
                return fail("expected exit 0 and at least one flow".into());
            }
            if let Some(bad) = flows.iter().find(|f| f["verdict"] != case.expect.as_str()) {
                return fail(format!("expected every flow {}, got {bad}", case.expect));
            }
        }
        counts => {
            let mut want: BTreeMap<String, usize> = BTreeMap::new();
            for part in counts.split(',') {
                let (v, n) = part.split_once('=').unwrap_or((part, "1"));
                want.insert(v.trim().to_string(), n.trim().parse().unwrap_or(usize::MAX));
            }
            if by_verdict != want {
                return fail(format!(
                    "expected flows by verdict {want:?}, got {by_verdict:?}"
                ));
            }
        }
    }
    if code != Some(0) {
        let err = run.stderr();
        if err.lines().count() != 1 || !err.contains(&case.file) {
            return fail("expected a one-line error naming the file".into());
        }
    }
    Ok(())
}

#[test]
fn testdata_matches_manifest_and_expected_output() {
    let cases = manifest();
    assert!(!cases.is_empty(), "testdata/MANIFEST.tsv lists no captures");
    let bless = std::env::var_os("NDBSNIFF_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let run = run_case(case);
        if let Err(e) = check_manifest(case, &run) {
            failures.push(e);
            continue;
        }
        if let Err(e) = check_expected(case, ".expected.json", &run.stdout(), bless) {
            failures.push(e);
        }
        let text = run_text(case);
        // The text summary goes to standard error, before the lines the JSON run writes there.
        if text.code() != run.code() || !text.stderr().ends_with(&run.stderr()) {
            failures.push(format!(
                "{}: the text run's exit status or standard error does not end as the JSON run's\n{}\n\n{}",
                case.file,
                text.describe(),
                run.describe()
            ));
            continue;
        }
        let seen = format!("{}{}", text.stdout(), text.stderr());
        if let Err(e) = check_expected(case, ".expected.txt", &seen, bless) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} testdata captures failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

#[test]
fn generator_reproduces_testdata_byte_for_byte() {
    let dir = common::temp_dir("regenerated-testdata");
    common::gen(&["testdata", dir.to_str().unwrap()]);
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).expect("read regenerated dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        let committed = common::root().join("testdata").join(&name);
        let fresh = std::fs::read(entry.path()).expect("read regenerated file");
        let old = std::fs::read(&committed).unwrap_or_else(|_| {
            panic!(
                "{} is generated but not in testdata/",
                name.to_string_lossy()
            )
        });
        assert!(
            fresh == old,
            "testdata/{} differs from what the generator writes now",
            name.to_string_lossy()
        );
        compared += 1;
    }
    assert!(compared > 10, "the generator wrote only {compared} files");
}

/// Runs every case that `wanted` admits again with `flags` (instead of `--threads 1`) and checks
/// that the output is the one of the default run.
fn same_output_with(flags: &[&str], wanted: impl Fn(&Case) -> bool, what: &str) {
    for case in manifest().iter().filter(|c| wanted(c)) {
        let one = run_case(case);
        let path = format!("testdata/{}", case.file);
        let mut args: Vec<&str> = vec!["-r", &path, "--format", "json"];
        args.extend(flags);
        args.extend(case.args.iter().map(String::as_str));
        let other = common::ndbsniff(&args);
        assert_eq!(one.stdout(), other.stdout(), "{}: {what}", case.file);
    }
}

#[test]
fn output_is_the_same_with_several_workers() {
    same_output_with(
        &["--threads", "3"],
        |c| c.expect != "error",
        "--threads 3 differs from --threads 1",
    );
}

#[test]
fn memory_mapped_and_libpcap_readers_agree() {
    for case in manifest()
        .iter()
        .filter(|c| c.expect != "error" && c.expect != "partial")
    {
        let one = run_case(case);
        let path = format!("testdata/{}", case.file);
        let mut args: Vec<&str> = vec!["-r", &path, "--format", "json", "--threads", "1"];
        args.extend(["--reader", "libpcap"]);
        args.extend(case.args.iter().map(String::as_str));
        let other = common::ndbsniff(&args);
        // A pcapng file of BSD loopback frames gets no port program from the pcapng reader
        // (libpcap would compile its address-family test for this host's values only): the
        // port test after decoding decides, and the statistics name no filter. All else agrees.
        let loopback_ng = case.file.ends_with(".pcapng")
            && ["NULL (0)", "LOOP (108)"]
                .contains(&one.stats()["link_type"].as_str().unwrap_or(""));
        if loopback_ng {
            let strip = |run: &common::Run| -> Vec<serde_json::Value> {
                run.json_lines()
                    .into_iter()
                    .map(|mut v| {
                        if v["type"] == "stats" {
                            v.as_object_mut().map(|o| o.remove("filter"));
                        }
                        v
                    })
                    .collect()
            };
            assert!(one.stats().get("filter").is_none(), "{}", case.file);
            assert_eq!(strip(&one), strip(&other), "{}: readers differ", case.file);
        } else {
            assert_eq!(
                one.stdout(),
                other.stdout(),
                "{}: --reader libpcap differs from the default reader",
                case.file
            );
        }
    }
}
