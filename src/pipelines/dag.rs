//! The stage graph: stage B depends on stage A when one of B's deps is one of A's outputs, lies
//! inside an output folder of A, or is a folder holding one of A's outputs (DVC's rule). The
//! same checks as DVC, with its words: an output declared twice, outputs nested in each other,
//! a path that is both a stage's dep and its output, and cycles.
use super::definition::Pipeline;
use crate::error::{KirokuError, Result};
use std::collections::BTreeSet;

/// Stages (by index into [`Pipeline::stages`]) and their dependencies.
#[derive(Debug, Clone)]
pub struct Dag {
    names: Vec<String>,
    upstream: Vec<Vec<usize>>,
    downstream: Vec<Vec<usize>>,
    order: Vec<usize>,
}

/// Whether `inner` is `outer` or lies inside it (`/`-separated relative paths).
fn within(inner: &str, outer: &str) -> bool {
    outer.is_empty()
        || inner == outer
        || (inner.len() > outer.len()
            && inner.starts_with(outer)
            && inner.as_bytes()[outer.len()] == b'/')
}

impl Dag {
    /// Builds the graph and checks it as DVC does.
    pub fn build(pipeline: &Pipeline) -> Result<Dag> {
        let stages = &pipeline.stages;
        // Every output, root-relative: (path, stage index, as written).
        let mut outs: Vec<(String, usize, String)> = Vec::new();
        for (i, stage) in stages.iter().enumerate() {
            for out in &stage.outs {
                let path = stage.path_from_root(&out.path);
                for (other, j, written) in &outs {
                    if *other == path {
                        let names: BTreeSet<&str> =
                            [stages[*j].name.as_str(), stage.name.as_str()].into();
                        let msg = if names.len() == 1 {
                            format!(
                                "output '{}' is already specified in stage: '{}'.\nUse `dvc remove {}` to stop tracking the overlapping output.",
                                out.path, stage.name, stage.name
                            )
                        } else {
                            format!(
                                "output '{}' is specified in:\n{}\nUse `dvc remove` with any of the above targets to stop tracking the overlapping output.",
                                out.path,
                                names.iter().map(|n| format!("\t- {n}")).collect::<Vec<_>>().join("\n")
                            )
                        };
                        return Err(KirokuError::Invalid(msg));
                    }
                    if within(&path, other) || within(other, &path) {
                        let (parent, parent_stage, child, child_stage) = if within(&path, other) {
                            (
                                written.as_str(),
                                &stages[*j].name,
                                out.path.as_str(),
                                &stage.name,
                            )
                        } else {
                            (
                                out.path.as_str(),
                                &stage.name,
                                written.as_str(),
                                &stages[*j].name,
                            )
                        };
                        return Err(KirokuError::Invalid(format!(
                            "The output paths:\n'{parent}'('{parent_stage}')\n'{child}'('{child_stage}')\noverlap and are thus in the same tracked directory.\nTo keep reproducibility, outputs should be in separate tracked directories or tracked individually."
                        )));
                    }
                }
                outs.push((path, i, out.path.clone()));
            }
        }
        let mut upstream = vec![Vec::new(); stages.len()];
        let mut downstream = vec![Vec::new(); stages.len()];
        for (i, stage) in stages.iter().enumerate() {
            let own: Vec<String> = stage
                .outs
                .iter()
                .map(|o| stage.path_from_root(&o.path))
                .collect();
            for dep in &stage.deps {
                let path = stage.path_from_root(&dep.path);
                if own.contains(&path) {
                    return Err(KirokuError::Invalid(format!(
                        "'{}' is specified as an output and as a dependency.",
                        dep.path
                    )));
                }
                for (out, j, _) in &outs {
                    if (within(&path, out) || within(out, &path)) && !upstream[i].contains(j) {
                        upstream[i].push(*j);
                        downstream[*j].push(i);
                    }
                }
            }
        }
        let names = stages.iter().map(|s| s.name.clone()).collect();
        let mut dag = Dag {
            names,
            upstream,
            downstream,
            order: Vec::new(),
        };
        dag.order = dag.topological()?;
        Ok(dag)
    }

    /// Kahn's order, ties broken by file order; a cycle is DVC's error naming its stages.
    fn topological(&self) -> Result<Vec<usize>> {
        let n = self.names.len();
        let mut remaining: Vec<usize> = self.upstream.iter().map(Vec::len).collect();
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| remaining[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(&i) = ready.iter().next() {
            ready.remove(&i);
            order.push(i);
            for &d in &self.downstream[i] {
                remaining[d] -= 1;
                if remaining[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            let stuck: Vec<&str> = (0..n)
                .filter(|&i| remaining[i] > 0 && self.in_cycle(i))
                .map(|i| self.names[i].as_str())
                .collect();
            let part = if stuck.len() == 1 { "stage" } else { "stages" };
            return Err(KirokuError::Invalid(format!(
                "Same item(s) are defined as both a dependency and an output in {part}: {}.",
                stuck.join(", ")
            )));
        }
        Ok(order)
    }

    /// Whether stage `i` reaches itself.
    fn in_cycle(&self, i: usize) -> bool {
        self.reach(i, &self.downstream).contains(&i)
    }

    /// Everything reachable from `i` along `edges` (not `i` itself unless on a cycle).
    fn reach(&self, i: usize, edges: &[Vec<usize>]) -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack = edges[i].clone();
        while let Some(j) = stack.pop() {
            if seen.insert(j) {
                stack.extend(edges[j].iter().copied());
            }
        }
        seen
    }

    /// Stage indices in dependency order (upstream first; ties in file order).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The stages `i` depends on directly.
    pub fn upstream(&self, i: usize) -> &[usize] {
        &self.upstream[i]
    }

    /// The stages that depend on `i` directly.
    pub fn downstream(&self, i: usize) -> &[usize] {
        &self.downstream[i]
    }

    /// Every stage `i` depends on, directly or not.
    pub fn ancestors(&self, i: usize) -> BTreeSet<usize> {
        self.reach(i, &self.upstream)
    }

    /// Every stage that depends on `i`, directly or not.
    pub fn descendants(&self, i: usize) -> BTreeSet<usize> {
        self.reach(i, &self.downstream)
    }

    /// The index of a stage by name; a group name (`train` for `train@0`, `train@1`) names
    /// all its members.
    pub fn find(&self, target: &str) -> Result<Vec<usize>> {
        let exact: Vec<usize> = (0..self.names.len())
            .filter(|&i| self.names[i] == target)
            .collect();
        if !exact.is_empty() {
            return Ok(exact);
        }
        let members: Vec<usize> = (0..self.names.len())
            .filter(|&i| {
                self.names[i]
                    .split_once('@')
                    .is_some_and(|(g, _)| g == target)
            })
            .collect();
        if !members.is_empty() {
            return Ok(members);
        }
        let close = crate::suggest::close_matches(target, self.names.iter().map(String::as_str), 1);
        Err(KirokuError::NotFound(match close.first() {
            Some(name) => format!("no stage '{target}' in dvc.yaml; did you mean '{name}'?"),
            None => format!("no stage '{target}' in dvc.yaml"),
        }))
    }

    /// What `repro [TARGETS] [-s] [--downstream]` works on, in dependency order: every stage
    /// when no target is named; else the targets with their upstream stages (only the targets
    /// with `single_item`), or with their downstream stages (`downstream`).
    pub fn select(
        &self,
        targets: &[String],
        single_item: bool,
        downstream: bool,
    ) -> Result<Vec<usize>> {
        if targets.is_empty() {
            return Ok(self.order.clone());
        }
        let mut chosen = BTreeSet::new();
        for target in targets {
            for i in self.find(target)? {
                chosen.insert(i);
                if single_item {
                    continue;
                }
                if downstream {
                    chosen.extend(self.descendants(i));
                } else {
                    chosen.extend(self.ancestors(i));
                }
            }
        }
        Ok(self
            .order
            .iter()
            .copied()
            .filter(|i| chosen.contains(i))
            .collect())
    }

    pub fn name(&self, i: usize) -> &str {
        &self.names[i]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::definition::load_text;
    use std::path::Path;

    fn dag(yaml: &str) -> Result<(Pipeline, Dag)> {
        let p = load_text(Path::new("/nonexistent"), yaml)?;
        let d = Dag::build(&p)?;
        Ok((p, d))
    }

    #[test]
    fn edges_follow_paths_into_and_around_folders() {
        let (p, d) = dag("stages:
  eval: {cmd: e, deps: [models/a.bin, data/prep]}
  train: {cmd: t, deps: [data/prep/x.csv], outs: [models]}
  prep: {cmd: p, deps: [data/raw], outs: [data/prep]}
")
        .unwrap();
        let names: Vec<&str> = d
            .order()
            .iter()
            .map(|&i| p.stages[i].name.as_str())
            .collect();
        assert_eq!(names, ["prep", "train", "eval"]);
        assert_eq!(d.upstream(0).len(), 2);
        let sel = |t: &[&str], s, ds| -> Vec<String> {
            let t: Vec<String> = t.iter().map(|x| x.to_string()).collect();
            d.select(&t, s, ds)
                .unwrap()
                .iter()
                .map(|&i| p.stages[i].name.clone())
                .collect()
        };
        assert_eq!(sel(&["train"], false, false), ["prep", "train"]);
        assert_eq!(sel(&["train"], true, false), ["train"]);
        assert_eq!(sel(&["train"], false, true), ["train", "eval"]);
        assert!(d
            .find("trian")
            .unwrap_err()
            .to_string()
            .contains("did you mean 'train'"));
    }

    #[test]
    fn dvc_errors() {
        let dup = dag("stages:\n  a: {cmd: x, outs: [o]}\n  b: {cmd: y, outs: [o]}\n").unwrap_err();
        assert!(
            dup.to_string()
                .starts_with("output 'o' is specified in:\n\t- a\n\t- b"),
            "{dup}"
        );
        let nest =
            dag("stages:\n  a: {cmd: x, outs: [o]}\n  b: {cmd: y, outs: [o/p]}\n").unwrap_err();
        assert!(
            nest.to_string()
                .starts_with("The output paths:\n'o'('a')\n'o/p'('b')"),
            "{nest}"
        );
        let cyc = dag("stages:\n  a: {cmd: x, deps: [q], outs: [p]}\n  b: {cmd: y, deps: [p], outs: [q]}\n  c: {cmd: z, deps: [q]}\n").unwrap_err();
        assert_eq!(
            cyc.to_string(),
            "Same item(s) are defined as both a dependency and an output in stages: a, b."
        );
        let same = dag("stages:\n  a: {cmd: x, deps: [p], outs: [p]}\n").unwrap_err();
        assert_eq!(
            same.to_string(),
            "'p' is specified as an output and as a dependency."
        );
    }
}
