//! Profiling a dataset for registration (`kiroku data add`): in one read, each file's sha256,
//! size and rows, the version's content hash, and each column's type (inferred for CSV,
//! declared for Parquet) and null count.
use super::chunk::Chunk;
use super::dataset::{read, version_hash, Dataset, ReadOptions, ReadProgress};
use super::infer::TypeInference;
use crate::error::Result;
use crate::model::{ColumnSchema, DataFile, DataFormat};
use std::path::Path;
use std::sync::Arc;

/// What a dataset version is, apart from its name, number, author and time.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetProfile {
    /// The version's content hash (`sha256:…` over file names and digests).
    pub id: String,
    /// The path profiled, absolute when it could be made so.
    pub path: String,
    pub format: DataFormat,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<ColumnSchema>,
    pub files: Vec<DataFile>,
    /// CSV rows whose field count differs from the header's.
    pub ragged_rows: u64,
}

/// Profiles the CSV or Parquet file, or folder of them, at `path`.
pub fn profile_path(path: &Path) -> Result<DatasetProfile> {
    profile_with_progress(path, None)
}

/// As [`profile_path`], reporting bytes and rows read to `progress`.
pub fn profile_with_progress(
    path: &Path,
    progress: Option<Arc<ReadProgress>>,
) -> Result<DatasetProfile> {
    let dataset = Dataset::open(path)?;
    let width = dataset.columns.len();
    let mut nulls = vec![0u64; width];
    let mut inference = vec![TypeInference::default(); width];
    let options = ReadOptions {
        columns: (0..width).collect(),
        hash: true,
        progress,
    };
    let infer = dataset.declared_types.is_none();
    let summary = read(&dataset, &options, |chunk: Chunk| {
        for (index, column) in chunk.columns.iter().enumerate() {
            for row in 0..chunk.rows {
                let value = column.value(row);
                if value.is_null() {
                    nulls[index] += 1;
                } else if infer {
                    inference[index].add(value);
                }
            }
        }
        Ok(())
    })?;
    let columns = dataset
        .columns
        .iter()
        .enumerate()
        .map(|(index, name)| ColumnSchema {
            name: name.clone(),
            column_type: match &dataset.declared_types {
                Some(types) => types[index],
                None => inference[index].column_type(),
            },
            null_count: nulls[index],
        })
        .collect();
    let files: Vec<DataFile> = summary
        .files
        .iter()
        .map(|file| DataFile {
            path: file.relative.clone(),
            size_bytes: file.size,
            sha256: file.sha256.clone().unwrap_or_default(),
            rows: file.rows,
        })
        .collect();
    let id = version_hash(files.iter().map(|f| (f.path.as_str(), f.sha256.as_str())));
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(DatasetProfile {
        id,
        path: absolute.display().to_string(),
        format: dataset.format,
        size_bytes: dataset.size_bytes(),
        row_count: summary.rows,
        columns,
        files,
        ragged_rows: summary.ragged_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ColumnType;

    #[test]
    fn a_csv_profile_has_types_nulls_rows_and_a_stable_content_hash() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(
            &path,
            "id,score,name,day\n1,0.5,a,2024-01-01\n2,,b,2024-01-02\n3,NaN,,\n",
        )
        .unwrap();
        let profile = profile_path(&path).unwrap();
        assert_eq!(profile.row_count, 3);
        assert_eq!(profile.format, DataFormat::Csv);
        let shape: Vec<(&str, ColumnType, u64)> = profile
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.column_type, c.null_count))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("id", ColumnType::Int, 0),
                ("score", ColumnType::Float, 2),
                ("name", ColumnType::String, 1),
                ("day", ColumnType::Date, 1)
            ]
        );
        assert_eq!(profile.files.len(), 1);
        assert_eq!(profile.files[0].path, "d.csv");
        assert_eq!(profile.files[0].rows, 3);
        assert_eq!(
            profile.files[0].sha256,
            super::super::dataset::sha256_file(&path).unwrap()
        );
        assert_eq!(profile.size_bytes, std::fs::metadata(&path).unwrap().len());
        // Same bytes, same version; one changed byte, another.
        assert_eq!(profile_path(&path).unwrap().id, profile.id);
        std::fs::write(
            &path,
            "id,score,name,day\n1,0.5,a,2024-01-01\n2,,b,2024-01-02\n4,NaN,,\n",
        )
        .unwrap();
        assert_ne!(profile_path(&path).unwrap().id, profile.id);
        assert!(profile.id.starts_with("sha256:") && profile.id.len() == 71);
    }
}
