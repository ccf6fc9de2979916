//! `RunStore` over HTTP: `/api/v1/runs/...`.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::RunStore;

impl RunStore for HttpStore {
    fn create_run(&self, new: &NewRun) -> Result<Run> {
        self.post("/runs", new)
    }

    fn resolve_run(&self, reference: &str) -> Result<String> {
        let answer: IdAnswer = self.get("/runs/resolve", &[("ref", reference)])?;
        Ok(answer.id)
    }

    fn run(&self, id: &str) -> Result<RunDetail> {
        self.get(&Self::run_path(id, ""), &[])
    }

    fn search_runs(&self, query: &RunQuery) -> Result<RunPage> {
        match &query.filter {
            // Times in the filter are the reader's, not the server's.
            Some(filter) => {
                let mut pinned = query.clone();
                pinned.filter = Some(crate::query::pin_times(filter));
                self.post("/runs/search", &pinned)
            }
            None => self.post("/runs/search", query),
        }
    }

    fn set_status_as(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        end_time: Option<Millis>,
        user: Option<&str>,
    ) -> Result<()> {
        let body = StatusChange {
            status,
            exit_code,
            end_time,
            user: user.map(str::to_string),
        };
        self.post_unit(&Self::run_path(id, "/status"), &body)
    }

    fn log_params(&self, id: &str, params: &[(String, String)]) -> Result<()> {
        let body = Pairs {
            pairs: params.to_vec(),
            user: String::new(),
        };
        self.post_unit(&Self::run_path(id, "/params"), &body)
    }

    fn set_tags(&self, id: &str, tags: &[(String, String)], user: &str) -> Result<()> {
        let body = Pairs {
            pairs: tags.to_vec(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/tags"), &body)
    }

    fn remove_tags(&self, id: &str, keys: &[String], user: &str) -> Result<()> {
        let body = Keys {
            keys: keys.to_vec(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/tags/remove"), &body)
    }

    fn set_deleted(&self, id: &str, deleted: bool, user: &str) -> Result<()> {
        let body = DeletedChange {
            deleted,
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/deleted"), &body)
    }

    fn rename_run(&self, id: &str, name: &str, user: &str) -> Result<()> {
        let body = NameChange {
            name: name.into(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/name"), &body)
    }

    fn set_source(&self, id: &str, source: &RunSource) -> Result<()> {
        self.post_unit(&Self::run_path(id, "/source"), source)
    }

    fn set_environment(&self, id: &str, env: &[(String, String)]) -> Result<()> {
        let body = Pairs {
            pairs: env.to_vec(),
            user: String::new(),
        };
        self.post_unit(&Self::run_path(id, "/environment"), &body)
    }

    fn add_input(&self, id: &str, input: &LoggedInput) -> Result<()> {
        self.post_unit(&Self::run_path(id, "/inputs"), input)
    }

    fn logged_inputs(&self, ids: &[String]) -> Result<Vec<Vec<LoggedInput>>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(crate::limits::MAX_ENTITIES_PER_BATCH) {
            let body = RunIds {
                ids: chunk.to_vec(),
            };
            out.extend(self.post::<_, Vec<Vec<LoggedInput>>>("/logged-inputs", &body)?);
        }
        Ok(out)
    }
}
