//! `ArtifactStore`: a run's artifact files and their records (size, hash, where they came from).
use crate::error::Result;
use crate::model::Artifact;

pub trait ArtifactStore {
    fn add_artifact(&self, id: &str, artifact: &Artifact) -> Result<()>;
    /// Stores what `data` yields as the run's artifact `path` (relative, inside the run) and
    /// records it with its size, SHA-256 and `location` (where it was copied from), streaming
    /// (never holding the whole file). The file and its record change together: of concurrent
    /// uploads to one path the last one wins both. Refused for deleted runs; a file/folder
    /// conflict on the way is `Invalid`. Local stores write into the run's folder (never through
    /// a link, see `run_files`); the HTTP store streams to the server, which does the same there.
    fn upload_artifact(
        &self,
        id: &str,
        path: &str,
        data: Box<dyn std::io::Read + Send>,
        location: Option<&str>,
    ) -> Result<Artifact>;
    /// Deletes the run's artifact file or folder at `path` and the records of everything at or
    /// under it; `NotFound` when there is neither. Refused for deleted runs.
    fn delete_artifact(&self, id: &str, path: &str) -> Result<()>;
}
