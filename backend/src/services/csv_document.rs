//! CSV downloads: RFC 4180, a header row, then one record per row.

use crate::error::AppError;

/// `header`, then each of `records`, as one CSV text.
pub fn csv_document<const N: usize>(
    header: [&str; N],
    records: impl IntoIterator<Item = [String; N]>,
) -> Result<String, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
        out.write_record(header)?;
        for record in records {
            out.write_record(record)?;
        }
        out.flush()?;
        Ok(())
    };
    write(&mut out).map_err(|e| AppError::Internal(e.into()))?;
    let bytes = out.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}
