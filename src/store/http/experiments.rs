//! `ExperimentStore` over HTTP: `/api/v1/experiments/...`.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::ExperimentStore;

impl ExperimentStore for HttpStore {
    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>> {
        let flag = include_deleted.to_string();
        self.get("/experiments", &[("include_deleted", flag.as_str())])
    }

    fn experiment(&self, name_or_id: &str) -> Result<Experiment> {
        self.get("/experiments/lookup", &[("ref", name_or_id)])
    }

    fn create_experiment(&self, name: &str, user: &str) -> Result<Experiment> {
        let body = CreateExperiment {
            name: name.into(),
            user: user.into(),
        };
        self.post("/experiments", &body)
    }

    fn rename_experiment(&self, name_or_id: &str, new_name: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: Some(new_name.into()),
        };
        self.post_unit("/experiments/rename", &body)
    }

    fn delete_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: None,
        };
        self.post_unit("/experiments/delete", &body)
    }

    fn delete_experiment_at(&self, name_or_id: &str, at: Millis, user: &str) -> Result<()> {
        let body = DeleteExperimentAt {
            reference: name_or_id.into(),
            user: user.into(),
            at,
        };
        self.post_unit("/experiments/delete-at", &body)
    }

    fn import_experiment(&self, new: &ImportedExperiment, user: &str) -> Result<Experiment> {
        let body = ImportExperiment {
            experiment: new.clone(),
            user: user.into(),
        };
        self.post("/experiments/import", &body)
    }

    fn restore_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: None,
        };
        self.post_unit("/experiments/restore", &body)
    }

    fn set_experiment_tags(
        &self,
        name_or_id: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<()> {
        let body = ExperimentTags {
            reference: name_or_id.into(),
            user: user.into(),
            pairs: tags.to_vec(),
            keys: Vec::new(),
        };
        self.post_unit("/experiments/tags", &body)
    }

    fn remove_experiment_tags(&self, name_or_id: &str, keys: &[String], user: &str) -> Result<()> {
        let body = ExperimentTags {
            reference: name_or_id.into(),
            user: user.into(),
            pairs: Vec::new(),
            keys: keys.to_vec(),
        };
        self.post_unit("/experiments/tags/remove", &body)
    }
}
