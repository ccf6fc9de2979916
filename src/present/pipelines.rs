//! How pipelines are shown, by `kiroku status`, `kiroku dag` and the Pipelines screen: a
//! stage's state in words, the status report, and the stage graph as an indented tree, JSON
//! or Graphviz dot.
use crate::pipelines::{Dag, Pipeline, Reason, StageState, StageStatus};
use serde_json::{json, Value as Json};
use std::collections::BTreeSet;

/// What `kiroku status` prints when nothing would rerun (DVC's words).
pub const UP_TO_DATE: &str = "Data and pipelines are up to date.";

/// One word for a state: `fresh`, `stale`, `frozen`.
pub fn state_word(state: &StageState) -> &'static str {
    match state {
        StageState::Fresh => "fresh",
        StageState::Stale(_) => "stale",
        StageState::Frozen(_) => "frozen",
    }
}

/// The reasons of a state, one line each; the upstream stages that rerun on one line.
pub fn reason_lines(state: &StageState) -> Vec<String> {
    let reasons = match state {
        StageState::Fresh => return Vec::new(),
        StageState::Stale(reasons) | StageState::Frozen(reasons) => reasons,
    };
    let mut lines: Vec<String> = reasons
        .iter()
        .filter(|r| !matches!(r, Reason::Upstream { .. }))
        .map(Reason::to_string)
        .collect();
    let upstream: Vec<&str> = reasons
        .iter()
        .filter_map(|r| match r {
            Reason::Upstream { stage } => Some(stage.as_str()),
            _ => None,
        })
        .collect();
    match upstream.as_slice() {
        [] => {}
        [one] => lines.push(format!("upstream stage '{one}' reruns")),
        many => lines.push(format!("upstream stages rerun: {}", many.join(", "))),
    }
    lines
}

/// The status report: each listed stage, then its reasons indented; DVC's line when empty.
pub fn status_text(stages: &[StageStatus]) -> String {
    if stages.is_empty() {
        return format!("{UP_TO_DATE}\n");
    }
    let mut out = String::new();
    for stage in stages {
        let label = match &stage.state {
            StageState::Frozen(_) => format!("{} (frozen, not rerun):\n", stage.name),
            _ => format!("{}:\n", stage.name),
        };
        out.push_str(&label);
        for line in reason_lines(&stage.state) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    out
}

/// One line of the stage tree: which stage, the tree drawing before its name, and whether it
/// was drawn before (under another parent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeRow {
    pub stage: usize,
    pub prefix: String,
    pub repeat: bool,
}

/// The stages of `selected` as trees from the ones with no upstream stage among them, children
/// in dependency order; a stage reached again under another parent is a repeat (not expanded).
pub fn tree_rows(dag: &Dag, selected: &[usize]) -> Vec<TreeRow> {
    let chosen: BTreeSet<usize> = selected.iter().copied().collect();
    let mut shown = BTreeSet::new();
    let mut rows = Vec::new();
    for &i in selected {
        if dag.upstream(i).iter().any(|u| chosen.contains(u)) {
            continue;
        }
        tree_walk(dag, &chosen, i, "", None, &mut shown, &mut rows);
    }
    rows
}

fn tree_walk(
    dag: &Dag,
    chosen: &BTreeSet<usize>,
    i: usize,
    prefix: &str,
    last: Option<bool>,
    shown: &mut BTreeSet<usize>,
    rows: &mut Vec<TreeRow>,
) {
    let branch = match last {
        None => "",
        Some(true) => "└── ",
        Some(false) => "├── ",
    };
    let repeat = !shown.insert(i);
    rows.push(TreeRow {
        stage: i,
        prefix: format!("{prefix}{branch}"),
        repeat,
    });
    if repeat {
        return;
    }
    let children: Vec<usize> = dag
        .order()
        .iter()
        .copied()
        .filter(|c| chosen.contains(c) && dag.upstream(*c).contains(&i))
        .collect();
    let child_prefix = match last {
        None => prefix.to_string(),
        Some(true) => format!("{prefix}    "),
        Some(false) => format!("{prefix}│   "),
    };
    for (n, &c) in children.iter().enumerate() {
        let is_last = n + 1 == children.len();
        tree_walk(dag, chosen, c, &child_prefix, Some(is_last), shown, rows);
    }
}

/// The stage tree as text: `name`, `name (frozen)`, `name (above)` for a repeat.
pub fn dag_tree(pipeline: &Pipeline, dag: &Dag, selected: &[usize]) -> String {
    let mut out = String::new();
    for row in tree_rows(dag, selected) {
        let stage = &pipeline.stages[row.stage];
        out.push_str(&row.prefix);
        out.push_str(&stage.name);
        if stage.frozen {
            out.push_str(" (frozen)");
        }
        if row.repeat {
            out.push_str(" (above)");
        }
        out.push('\n');
    }
    out
}

/// The graph as JSON: stages in dependency order with their command, paths and neighbours.
pub fn dag_json(pipeline: &Pipeline, dag: &Dag, selected: &[usize]) -> Json {
    let names = |list: &[usize]| -> Vec<&str> {
        list.iter()
            .filter(|i| selected.contains(i))
            .map(|&i| pipeline.stages[i].name.as_str())
            .collect()
    };
    let stages: Vec<Json> = selected
        .iter()
        .map(|&i| {
            let s = &pipeline.stages[i];
            json!({
                "name": s.name,
                "cmd": s.cmd,
                "wdir": s.wdir,
                "deps": s.deps.iter().map(|d| &d.path).collect::<Vec<_>>(),
                "outs": s.outs.iter().map(|o| &o.path).collect::<Vec<_>>(),
                "frozen": s.frozen,
                "upstream": names(dag.upstream(i)),
                "downstream": names(dag.downstream(i)),
            })
        })
        .collect();
    json!({ "schema": "kiroku.dag/v1", "stages": stages })
}

/// The graph in Graphviz dot (edges from a stage to the stages that depend on it).
pub fn dag_dot(pipeline: &Pipeline, dag: &Dag, selected: &[usize]) -> String {
    let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut out = String::from("strict digraph {\n");
    for &i in selected {
        out.push_str(&format!("    {};\n", quote(&pipeline.stages[i].name)));
    }
    for &i in selected {
        for &d in dag.downstream(i) {
            if selected.contains(&d) {
                out.push_str(&format!(
                    "    {} -> {};\n",
                    quote(&pipeline.stages[i].name),
                    quote(&pipeline.stages[d].name)
                ));
            }
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::load_text;
    use std::path::Path;

    #[test]
    fn a_diamond_draws_as_a_tree_with_the_join_once() {
        let p = load_text(
            Path::new("/nonexistent"),
            "stages:
  prep: {cmd: p, outs: [a]}
  left: {cmd: l, deps: [a], outs: [b]}
  right: {cmd: r, deps: [a], outs: [c], frozen: true}
  join: {cmd: j, deps: [b, c]}
",
        )
        .unwrap();
        let dag = Dag::build(&p).unwrap();
        let all = dag.select(&[], false, false).unwrap();
        assert_eq!(
            dag_tree(&p, &dag, &all),
            "prep\n├── left\n│   └── join\n└── right (frozen)\n    └── join (above)\n"
        );
        let dot = dag_dot(&p, &dag, &all);
        assert!(dot.contains("\"prep\" -> \"left\";"), "{dot}");
        let json = dag_json(&p, &dag, &all);
        assert_eq!(json["stages"][3]["upstream"], json!(["left", "right"]));
    }
}
