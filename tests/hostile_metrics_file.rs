//! The metrics-file reader under hostile input (issue 7's fuzzer for the protocol): random
//! files of good lines mixed with garbage (broken JSON, bad keys, non-UTF-8 bytes, huge
//! values, lines without an end) read in random pieces. Whatever the input: no panic, every good
//! line's points, params and tags arrive exactly once, each bad line is reported, reading in
//! pieces gives what reading whole gives, a recovery from any line boundary gives the rest,
//! and what the reader hands on is always accepted by a real store in one batch.
use kiroku::ingest::metrics_file::{
    read_rest, Ingested, LineParser, MetricsFileTail, MAX_LINE_BYTES,
};
use kiroku::model::{NewRun, RunBatch};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use proptest::prelude::*;
use std::io::Write;

/// One line of a generated file, and what it must give.
#[derive(Debug, Clone)]
enum GenLine {
    /// A metric with an explicit step: always kept.
    Point {
        key: String,
        step: i64,
        value: f64,
    },
    Param {
        key: String,
        value: String,
    },
    Tag {
        key: String,
        value: String,
    },
    /// Anything else: reported, never fatal.
    Garbage(Vec<u8>),
}

fn key() -> impl Strategy<Value = String> {
    // Keys the protocol accepts: letters, digits, `_ - . /` and spaces inside.
    "[a-z][a-z0-9_./-]{0,12}".prop_filter("no '//' or trailing '/'", |k| {
        !k.contains("//") && !k.ends_with('/')
    })
}

fn garbage() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Random bytes without a newline (invalid UTF-8 and broken JSON alike).
        proptest::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..64
        ),
        Just(br#"{"tags":{"":"x"}}"#.to_vec()),
        Just(br#"{"params":{"":"x"}}"#.to_vec()),
        Just(br#"{"":1}"#.to_vec()),
        Just(br#"{"step":"ten","loss":1}"#.to_vec()),
        Just(b"[1,2,3]".to_vec()),
        Just(b"{\"loss\":".to_vec()),
        Just(b"{\"a\":{\"b\":{\"c\":{\"d\":[{}]}}}}".to_vec()),
        Just(format!("{{\"big\":\"{}\"}}", "x".repeat(20_000)).into_bytes()),
        Just(b"{\"loss\": 1e999999}".to_vec()),
    ]
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    prop_oneof![
        4 => (key(), 0i64..1_000_000, -1e9f64..1e9).prop_map(|(key, step, value)| GenLine::Point { key: format!("m/{key}"), step, value }),
        1 => (key(), "[ -~]{0,40}").prop_map(|(key, value)| GenLine::Param { key: format!("p/{key}"), value }),
        1 => (key(), "[ -~]{0,40}").prop_map(|(key, value)| GenLine::Tag { key: format!("t/{key}"), value }),
        2 => garbage().prop_map(GenLine::Garbage),
    ]
}

fn render(line: &GenLine) -> Vec<u8> {
    match line {
        GenLine::Point { key, step, value } => {
            serde_json::json!({"step": step, key.as_str(): value})
                .to_string()
                .into_bytes()
        }
        GenLine::Param { key, value } => serde_json::json!({"params": {key.as_str(): value}})
            .to_string()
            .into_bytes(),
        GenLine::Tag { key, value } => serde_json::json!({"tags": {key.as_str(): value}})
            .to_string()
            .into_bytes(),
        GenLine::Garbage(bytes) => bytes.clone(),
    }
}

fn file_of(lines: &[GenLine]) -> Vec<u8> {
    let mut data = Vec::new();
    for line in lines {
        data.extend(render(line));
        data.push(b'\n');
    }
    data
}

fn parse_whole(data: &[u8]) -> Ingested {
    let mut parser = LineParser::new();
    let mut out = Ingested::default();
    for line in data.split(|b| *b == b'\n') {
        parser.parse_line(line, &mut out);
    }
    out
}

/// Points (key, step, value bits), params and tags.
type Expected = (
    Vec<(String, i64, u64)>,
    Vec<(String, String)>,
    Vec<(String, String)>,
);

/// The good content a file must give: points with their steps, the first value of each param,
/// every tag.
fn expected(lines: &[GenLine]) -> Expected {
    let mut points = Vec::new();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut tags = Vec::new();
    for line in lines {
        match line {
            GenLine::Point { key, step, value } => {
                points.push((key.clone(), *step, value.to_bits()))
            }
            GenLine::Param { key, value } => {
                if !params.iter().any(|(k, _)| k == key) {
                    params.push((key.clone(), value.clone()));
                }
            }
            GenLine::Tag { key, value } => tags.push((key.clone(), value.clone())),
            GenLine::Garbage(_) => {}
        }
    }
    (points, params, tags)
}

fn points_of(i: &Ingested) -> Vec<(String, i64, u64)> {
    i.points
        .iter()
        .filter(|p| p.key.starts_with("m/"))
        .map(|p| (p.key.clone(), p.step, p.value.to_bits()))
        .collect()
}

fn merge(into: &mut Ingested, more: Ingested) {
    into.points.extend(more.points);
    into.params.extend(more.params);
    into.tags.extend(more.tags);
    into.warnings.extend(more.warnings);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Good lines all arrive, bad ones are reported, and nothing the reader hands on can fail
    /// the store's batch.
    #[test]
    fn fuzz_metrics_file_good_lines_survive_any_garbage(lines in proptest::collection::vec(gen_line(), 0..60)) {
        let data = file_of(&lines);
        let got = parse_whole(&data);
        let (points, params, tags) = expected(&lines);
        prop_assert_eq!(points_of(&got), points);
        let got_params: Vec<_> = got.params.iter().filter(|(k, _)| k.starts_with("p/")).cloned().collect();
        prop_assert_eq!(got_params, params);
        let got_tags: Vec<_> = got.tags.iter().filter(|(k, _)| k.starts_with("t/")).cloned().collect();
        prop_assert_eq!(got_tags, tags);
        for w in &got.warnings {
            prop_assert!(w.len() < 1_000, "a warning quotes too much: {} bytes", w.len());
            prop_assert!(w.starts_with("line "), "a warning without its line: {w}");
        }

        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        let run = store.create_run(&NewRun { experiment: "fuzz".into(), user: "u".into(), ..Default::default() }).unwrap();
        let batch = RunBatch { params: got.params.clone(), metrics: got.points.clone(), tags: got.tags.clone(), ingested_to: None };
        prop_assert!(store.log_batch(&run.id, &batch, "u").is_ok(), "the store refused what the reader accepted");
    }

    /// Reading a growing file in random pieces (lines cut anywhere) gives what reading it whole
    /// gives, and the consumed offset always sits on a line boundary.
    #[test]
    fn fuzz_metrics_file_read_in_pieces_matches_whole(
        lines in proptest::collection::vec(gen_line(), 0..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        unterminated in proptest::option::of("[a-z]{1,5}"),
    ) {
        let mut data = file_of(&lines);
        if let Some(k) = &unterminated {
            data.extend(format!("{{\"step\": 1, \"m/{k}\": 2}}").into_bytes());
        }
        let mut cut_at: Vec<usize> = cuts.iter().map(|i| i.index(data.len() + 1)).collect();
        cut_at.push(data.len());
        cut_at.sort_unstable();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::File::create(&path).unwrap();
        let mut tail = MetricsFileTail::new(&path);
        let mut got = Ingested::default();
        let mut written = 0;
        for &cut in &cut_at {
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&data[written..cut]).unwrap();
            written = cut;
            merge(&mut got, tail.poll(false).unwrap());
            let offset = tail.consumed_offset() as usize;
            prop_assert!(offset == 0 || data[offset - 1] == b'\n', "offset {offset} is inside a line");
        }
        merge(&mut got, tail.poll(true).unwrap());
        prop_assert_eq!(tail.consumed_offset() as usize, data.len());
        let whole = parse_whole(&data);
        prop_assert_eq!(points_of(&got), points_of(&whole));
        prop_assert_eq!(got.params, whole.params);
        prop_assert_eq!(got.tags, whole.tags);
        prop_assert_eq!(got.warnings.len(), whole.warnings.len());
    }

    /// A recovery from any line boundary (the wrapper's checkpoint) gives exactly the lines
    /// after it, with the steps and first params the whole file would give them.
    #[test]
    fn fuzz_metrics_file_recovery_from_any_checkpoint_gives_the_rest(
        lines in proptest::collection::vec(gen_line(), 1..40),
        at in any::<prop::sample::Index>(),
    ) {
        let data = file_of(&lines);
        let boundaries: Vec<usize> = std::iter::once(0)
            .chain(data.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1))
            .collect();
        let checkpoint = boundaries[at.index(boundaries.len())];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        std::fs::write(&path, &data).unwrap();
        let (rest, end) = read_rest(&path, checkpoint as u64).unwrap();
        prop_assert_eq!(end as usize, data.len());
        let mut parser = LineParser::new();
        let mut before = Ingested::default();
        let mut after = Ingested::default();
        let mut start = 0;
        for line in data[..data.len() - 1].split(|b| *b == b'\n') {
            let out = if start < checkpoint { &mut before } else { &mut after };
            parser.parse_line(line, out);
            start += line.len() + 1;
        }
        prop_assert_eq!(points_of(&rest), points_of(&after));
        prop_assert_eq!(rest.params, after.params);
        prop_assert_eq!(rest.tags, after.tags);
    }
}

/// A line longer than the protocol's limit is skipped and reported without being held whole,
/// and the lines around it still arrive.
#[test]
fn a_line_longer_than_the_limit_is_skipped_and_its_neighbours_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut f = std::fs::File::create(&path).unwrap();
    writeln!(f, r#"{{"step": 1, "loss": 0.5}}"#).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    f.write_all(b"{\"huge\": \"").unwrap();
    for _ in 0..(MAX_LINE_BYTES >> 20) + 2 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\"}\n").unwrap();
    writeln!(f, r#"{{"step": 2, "loss": 0.25}}"#).unwrap();
    drop(f);
    let mut tail = MetricsFileTail::new(&path);
    let got = tail.poll(true).unwrap();
    let steps: Vec<i64> = got.points.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![1, 2]);
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(
        got.warnings[0].starts_with("line 2: longer than"),
        "{}",
        got.warnings[0]
    );
    let (rest, _) = read_rest(&path, 0).unwrap();
    assert_eq!(rest.points.len(), 2);
    assert_eq!(rest.warnings.len(), 1);
}
