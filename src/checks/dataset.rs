//! A dataset on disk: one CSV or Parquet file, or a folder of files of one format read as one
//! dataset (files in path order, rows numbered across them), and the streaming read of it.
//!
//! `read` runs the format's reader on a thread of its own (which may start more: CSV parses
//! on two) and hands chunks of up to [`CHUNK_ROWS`] rows to the caller on the calling thread
//! (the checks) through a channel of two chunks, so memory stays bounded whatever the size.
use super::chunk::Chunk;
use super::{csv_source, parquet_source};
use crate::error::{KirokuError, Result};
use crate::model::{ColumnType, DataFormat};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

/// Rows per chunk handed from the reader thread to the checks.
pub const CHUNK_ROWS: usize = 16 * 1024;

/// A dataset: its files and its columns (the union of its files' columns, in order of first
/// appearance).
#[derive(Debug, Clone)]
pub struct Dataset {
    pub path: PathBuf,
    pub format: DataFormat,
    pub files: Vec<DatasetFile>,
    pub columns: Vec<String>,
    /// Types the files declare (Parquet); `None` for CSV, where types are inferred.
    pub declared_types: Option<Vec<ColumnType>>,
}

/// One file of a dataset.
#[derive(Debug, Clone)]
pub struct DatasetFile {
    pub path: PathBuf,
    /// Relative to the dataset's path (the file name for a single-file dataset), `/`-separated.
    pub relative: String,
    pub size: u64,
}

impl Dataset {
    /// Opens `path` (a file, or a folder of files of one format) and reads its columns.
    pub fn open(path: &Path) -> Result<Dataset> {
        let meta = std::fs::metadata(path).map_err(|e| {
            KirokuError::Invalid(format!("cannot read dataset {}: {e}", path.display()))
        })?;
        let mut files = Vec::new();
        if meta.is_dir() {
            collect_files(path, path, &mut files)?;
            files.sort_by(|a, b| a.relative.cmp(&b.relative));
            if files.is_empty() {
                return Err(KirokuError::Invalid(format!(
                    "dataset folder {} holds no .csv or .parquet files",
                    path.display()
                )));
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            files.push(DatasetFile {
                path: path.to_path_buf(),
                relative: name,
                size: meta.len(),
            });
        }
        let formats: Vec<DataFormat> = files
            .iter()
            .map(|f| format_of(&f.path))
            .collect::<Result<_>>()?;
        let format = formats[0];
        if let Some(other) = formats.iter().position(|f| *f != format) {
            return Err(KirokuError::Invalid(format!(
                "dataset folder {} mixes formats: {} is {} but {} is {}",
                path.display(),
                files[0].relative,
                format,
                files[other].relative,
                formats[other]
            )));
        }
        let mut columns: Vec<String> = Vec::new();
        let mut declared: Vec<ColumnType> = Vec::new();
        for file in &files {
            let (names, types) = match format {
                DataFormat::Csv => (csv_source::header(&file.path)?, None),
                DataFormat::Parquet => {
                    let (names, types) = parquet_source::schema(&file.path)?;
                    (names, Some(types))
                }
            };
            for (index, name) in names.into_iter().enumerate() {
                if !columns.contains(&name) {
                    columns.push(name);
                    if let Some(types) = &types {
                        declared.push(types[index]);
                    }
                }
            }
        }
        Ok(Dataset {
            path: path.to_path_buf(),
            format,
            files,
            columns,
            declared_types: (format == DataFormat::Parquet).then_some(declared),
        })
    }

    /// The position of column `name`.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    pub fn size_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The format of a file: by extension (`.csv`, `.tsv`, `.txt`; `.parquet`, `.pq`, `.parq`),
/// else by content (Parquet starts with `PAR1`).
pub fn format_of(path: &Path) -> Result<DataFormat> {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "csv" | "tsv" | "txt" => return Ok(DataFormat::Csv),
        "parquet" | "pq" | "parq" => return Ok(DataFormat::Parquet),
        _ => {}
    }
    let mut magic = [0u8; 4];
    let mut file = std::fs::File::open(path)
        .map_err(|e| KirokuError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let n = file.read(&mut magic).unwrap_or(0);
    Ok(if n == 4 && &magic == b"PAR1" {
        DataFormat::Parquet
    } else {
        DataFormat::Csv
    })
}

fn is_data_file(path: &Path) -> bool {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        extension.as_str(),
        "csv" | "tsv" | "parquet" | "pq" | "parq"
    )
}

/// Data files under `dir` (recursively; names starting with `.` or `_`, such as Spark's
/// `_SUCCESS`, are skipped).
fn collect_files(root: &Path, dir: &Path, files: &mut Vec<DatasetFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| KirokuError::Invalid(format!("cannot list {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| KirokuError::io(format!("listing {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::metadata(&path)
            .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
        if meta.is_dir() {
            collect_files(root, &path, files)?;
        } else if is_data_file(&path) {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push(DatasetFile {
                path,
                relative,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

/// How far a read has come, shared with a progress display.
#[derive(Debug, Default)]
pub struct ReadProgress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
}

impl ReadProgress {
    pub fn add(&self, bytes: u64, rows: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }
}

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Dataset column positions to read, in the order chunks hold them.
    pub columns: Vec<usize>,
    /// Compute each file's sha256 on the way.
    pub hash: bool,
    pub progress: Option<Arc<ReadProgress>>,
}

/// What a whole read saw besides the chunks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadSummary {
    pub rows: u64,
    pub files: Vec<FileSummary>,
    /// CSV rows with more or fewer fields than the header: missing cells read as null, extra
    /// ones are ignored.
    pub ragged_rows: u64,
    /// The first few ragged rows (dataset row numbers).
    pub ragged_examples: Vec<u64>,
}

/// Ragged rows named in a summary.
pub const RAGGED_EXAMPLES: usize = 10;

/// One file of a read.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSummary {
    pub relative: String,
    pub size: u64,
    /// `sha256:` and the hex digest, when asked for.
    pub sha256: Option<String>,
    pub rows: u64,
}

/// Where a file reader sends what it read.
pub(crate) struct Sink<'a> {
    pub sender: &'a mpsc::SyncSender<Chunk>,
    pub progress: Option<&'a ReadProgress>,
    pub summary: &'a mut ReadSummary,
}

impl Sink<'_> {
    /// Sends a chunk; `false` when the consumer has stopped (an error on its side).
    pub fn send(&mut self, chunk: Chunk, bytes: u64) -> bool {
        let rows = chunk.rows as u64;
        self.summary.rows += rows;
        if let Some(progress) = self.progress {
            progress.add(bytes, rows);
        }
        self.sender.send(chunk).is_ok()
    }

    pub fn ragged(&mut self, row: u64) {
        self.summary.ragged_rows += 1;
        if self.summary.ragged_examples.len() < RAGGED_EXAMPLES {
            self.summary.ragged_examples.push(row);
        }
    }
}

/// Reads `dataset` on a reader thread, calling `on_chunk` for each chunk here; stops at the
/// first error of either side.
pub fn read(
    dataset: &Dataset,
    options: &ReadOptions,
    mut on_chunk: impl FnMut(Chunk) -> Result<()>,
) -> Result<ReadSummary> {
    let names: Vec<&str> = options
        .columns
        .iter()
        .map(|&i| dataset.columns[i].as_str())
        .collect();
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::sync_channel::<Chunk>(2);
        let reader = scope.spawn(move || -> Result<ReadSummary> {
            let mut summary = ReadSummary::default();
            for file in &dataset.files {
                let first_row = summary.rows;
                let mut sink = Sink {
                    sender: &sender,
                    progress: options.progress.as_deref(),
                    summary: &mut summary,
                };
                let (sha256, stopped) = match dataset.format {
                    DataFormat::Csv => {
                        csv_source::read_file(file, &names, options.hash, &mut sink)?
                    }
                    DataFormat::Parquet => {
                        parquet_source::read_file(file, &names, options.hash, &mut sink)?
                    }
                };
                summary.files.push(FileSummary {
                    relative: file.relative.clone(),
                    size: file.size,
                    sha256,
                    rows: summary.rows - first_row,
                });
                if stopped {
                    break;
                }
            }
            Ok(summary)
        });
        let mut failure = None;
        for chunk in receiver.iter() {
            if let Err(error) = on_chunk(chunk) {
                failure = Some(error);
                break;
            }
        }
        drop(receiver);
        let summary = reader
            .join()
            .map_err(|_| KirokuError::Invalid("the dataset reader panicked".into()))?;
        match failure {
            Some(error) => Err(error),
            None => summary,
        }
    })
}

/// `sha256:` and the hex digest of a file, read start to end.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path)
        .map_err(|e| KirokuError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(digest_text(hasher))
}

/// `sha256:` and the hex digest of a finished hasher.
pub fn digest_text(hasher: Sha256) -> String {
    let digest = hasher.finalize();
    let mut text = String::with_capacity(7 + 64);
    text.push_str("sha256:");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A version's content hash: sha256 over each file's relative path and digest, in path order
/// (`PATH\0sha256:HEX\n` per file).
pub fn version_hash<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (path, digest) in files {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    digest_text(hasher)
}
