//! CSV downloads: RFC 4180, a header row, then one record per row. The one writer of every CSV
//! the server sends, so its hazards are handled once: a cell that a spreadsheet would run as a
//! formula is neutralised (`neutralised`).

use std::borrow::Cow;

use crate::error::AppError;

/// `header`, then each of `records`, as one CSV text.
pub fn csv_document<const N: usize>(
    header: [&str; N],
    records: impl IntoIterator<Item = [String; N]>,
) -> Result<String, AppError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let write = |out: &mut csv::Writer<Vec<u8>>| -> csv::Result<()> {
        write_row(out, header.iter().copied())?;
        for record in records {
            write_row(out, record.iter().map(String::as_str))?;
        }
        out.flush()?;
        Ok(())
    };
    write(&mut out).map_err(|e| AppError::Internal(e.into()))?;
    let bytes = out.into_inner().map_err(|e| AppError::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.into()))
}

/// One record of `cells`, each neutralised.
fn write_row<'a>(out: &mut csv::Writer<Vec<u8>>, cells: impl Iterator<Item = &'a str>) -> csv::Result<()> {
    for cell in cells {
        out.write_field(neutralised(cell).as_ref())?;
    }
    out.write_record(None::<&[u8]>)
}

/// What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as text a spreadsheet shows rather than runs: one that starts like a formula gets a
/// leading single quote (OWASP's advice), which spreadsheets show as text and do not display;
/// every other cell is written exactly as it is.
fn neutralised(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) { Cow::Owned(format!("'{cell}")) } else { Cow::Borrowed(cell) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_quoted_and_the_rest_kept_exact() {
        let rows = [
            ["=HYPERLINK(\"http://x\",\"click\")".to_owned(), "1".to_owned()],
            ["+1".to_owned(), "-2".to_owned()],
            ["@SUM(A1)".to_owned(), "\tindent".to_owned()],
            ["\rreturn".to_owned(), "a = b, \"quoted\"\nline".to_owned()],
        ];
        let text = csv_document(["text", "n"], rows).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let cells: Vec<Vec<String>> =
            reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        assert_eq!(
            cells,
            [
                ["'=HYPERLINK(\"http://x\",\"click\")", "1"],
                ["'+1", "'-2"],
                ["'@SUM(A1)", "'\tindent"],
                ["'\rreturn", "a = b, \"quoted\"\nline"],
            ]
        );
    }
}
