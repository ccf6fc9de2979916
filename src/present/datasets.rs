//! Datasets for people, shared by `kiroku data` and the UI: sizes in bytes as `12.3 MB`, and what
//! changed between two dataset versions (`kiroku data diff`): columns added and removed, type and
//! null-count changes of the columns both have, and the row-count and size change.
use crate::model::data::DatasetVersion;
use crate::model::{ColumnSchema, ColumnType};
use serde::Serialize;

/// `n` bytes in decimal units: `512 B`, `12.3 kB`, `4.1 MB`, `2.0 GB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1000.0;
    let mut unit = 0;
    while value >= 999.95 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// One side of a comparison: which version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionRef {
    pub dataset: String,
    pub number: i64,
    pub id: String,
}

impl VersionRef {
    fn of(version: &DatasetVersion) -> Self {
        VersionRef {
            dataset: version.dataset.clone(),
            number: version.number,
            id: version.id.clone(),
        }
    }

    /// `train@3`.
    pub fn label(&self) -> String {
        format!("{}@{}", self.dataset, self.number)
    }
}

/// A number before and after.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub from: u64,
    pub to: u64,
    /// `to - from`.
    pub change: i128,
}

impl Change {
    fn of(from: u64, to: u64) -> Self {
        Change {
            from,
            to,
            change: to as i128 - from as i128,
        }
    }
}

/// A column whose type changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TypeChange {
    pub column: String,
    pub from: ColumnType,
    pub to: ColumnType,
}

/// A column whose null count changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NullChange {
    pub column: String,
    #[serde(flatten)]
    pub nulls: Change,
}

/// What changed from one version to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionDiff {
    pub from: VersionRef,
    pub to: VersionRef,
    /// The same content (the same id): nothing below can differ.
    pub same_content: bool,
    pub rows: Change,
    pub size_bytes: Change,
    /// In the newer version's column order.
    pub added: Vec<ColumnSchema>,
    /// In the older version's column order.
    pub removed: Vec<ColumnSchema>,
    pub type_changes: Vec<TypeChange>,
    pub null_changes: Vec<NullChange>,
}

impl VersionDiff {
    /// Whether the schema (columns, types, null counts) or the row count changed.
    pub fn has_changes(&self) -> bool {
        self.rows.change != 0
            || !self.added.is_empty()
            || !self.removed.is_empty()
            || !self.type_changes.is_empty()
            || !self.null_changes.is_empty()
    }
}

/// What changed from `from` to `to`. Columns are matched by name.
pub fn diff_versions(from: &DatasetVersion, to: &DatasetVersion) -> VersionDiff {
    let find = |columns: &[ColumnSchema], name: &str| -> Option<ColumnSchema> {
        columns.iter().find(|c| c.name == name).cloned()
    };
    let added = to
        .columns
        .iter()
        .filter(|c| find(&from.columns, &c.name).is_none())
        .cloned()
        .collect();
    let removed = from
        .columns
        .iter()
        .filter(|c| find(&to.columns, &c.name).is_none())
        .cloned()
        .collect();
    let mut type_changes = Vec::new();
    let mut null_changes = Vec::new();
    for new in &to.columns {
        let Some(old) = find(&from.columns, &new.name) else {
            continue;
        };
        if old.column_type != new.column_type {
            type_changes.push(TypeChange {
                column: new.name.clone(),
                from: old.column_type,
                to: new.column_type,
            });
        }
        if old.null_count != new.null_count {
            null_changes.push(NullChange {
                column: new.name.clone(),
                nulls: Change::of(old.null_count, new.null_count),
            });
        }
    }
    VersionDiff {
        from: VersionRef::of(from),
        to: VersionRef::of(to),
        same_content: from.id == to.id,
        rows: Change::of(from.row_count, to.row_count),
        size_bytes: Change::of(from.size_bytes, to.size_bytes),
        added,
        removed,
        type_changes,
        null_changes,
    }
}

/// `+12`, `-3`, `0`.
pub fn signed(change: i128) -> String {
    if change > 0 {
        format!("+{change}")
    } else {
        change.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DataFormat;

    fn column(name: &str, column_type: ColumnType, null_count: u64) -> ColumnSchema {
        ColumnSchema {
            name: name.into(),
            column_type,
            null_count,
        }
    }

    fn version(number: i64, rows: u64, columns: Vec<ColumnSchema>) -> DatasetVersion {
        DatasetVersion {
            id: format!("sha256:{number}"),
            dataset: "train".into(),
            number,
            path: "/d".into(),
            format: DataFormat::Csv,
            size_bytes: rows * 10,
            row_count: rows,
            columns,
            files: vec![],
            created_at: 0,
            created_by: "u".into(),
            source: None,
        }
    }

    #[test]
    fn added_removed_retyped_and_null_changed_columns_are_found() {
        let old = version(
            1,
            100,
            vec![
                column("id", ColumnType::Int, 0),
                column("age", ColumnType::Int, 2),
                column("zip", ColumnType::String, 0),
            ],
        );
        let new = version(
            2,
            90,
            vec![
                column("id", ColumnType::Int, 0),
                column("age", ColumnType::Float, 5),
                column("city", ColumnType::String, 1),
            ],
        );
        let diff = diff_versions(&old, &new);
        assert!(diff.has_changes() && !diff.same_content);
        assert_eq!(diff.rows, Change::of(100, 90));
        assert_eq!(diff.rows.change, -10);
        assert_eq!(diff.added, vec![column("city", ColumnType::String, 1)]);
        assert_eq!(diff.removed, vec![column("zip", ColumnType::String, 0)]);
        assert_eq!(
            diff.type_changes,
            vec![TypeChange {
                column: "age".into(),
                from: ColumnType::Int,
                to: ColumnType::Float
            }]
        );
        assert_eq!(diff.null_changes.len(), 1);
        assert_eq!(diff.null_changes[0].nulls.change, 3);
        assert!(!diff_versions(&old, &old).has_changes());
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(999), "999 B");
        assert_eq!(format_bytes(1000), "1.0 kB");
        assert_eq!(format_bytes(12_345), "12.3 kB");
        assert_eq!(format_bytes(999_999), "1.0 MB");
        assert_eq!(format_bytes(4_100_000_000), "4.1 GB");
        assert_eq!(signed(3), "+3");
        assert_eq!(signed(-3), "-3");
        assert_eq!(signed(0), "0");
    }
}
