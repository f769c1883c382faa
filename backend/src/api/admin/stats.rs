//! `/api/admin/stats`: the dashboard's figures over a range of days, and their CSV export.

use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::Query,
    payload::{Json, PlainText},
};
use troupe_types::Overview;

use crate::{
    api::{ApiTags, credentials::AdminOnly, error::ApiError},
    domain::DayRange,
    state::AppState,
};

#[derive(Default)]
pub struct StatsApi;

#[derive(ApiResponse)]
enum OverviewResponse {
    /// Figures for the range.
    #[oai(status = 200)]
    Overview(Json<Box<Overview>>),
}

#[derive(ApiResponse)]
enum CsvResponse {
    /// `day,user_id,username,messages,chats,prompt_tokens,completion_tokens,total_tokens`, one row
    /// per user per day with usage, RFC 4180 quoting.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(PlainText<String>, #[oai(header = "Content-Disposition")] String),
}

#[OpenApi(tag = "ApiTags::Admin")]
impl StatsApi {
    /// Statistics for a range of days
    ///
    /// Totals, a daily series (every day of the range), the top 10 users and characters by
    /// tokens, and usage per model with its estimated cost from the catalogue's prices. Days are
    /// UTC; `from`/`to` inclusive, default the last 30 days, at most 366.
    #[oai(path = "/api/admin/stats/overview", method = "get", operation_id = "admin_overview")]
    async fn overview(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<OverviewResponse, ApiError> {
        let range = DayRange::parse(from.0.as_deref(), to.0.as_deref())?;
        Ok(OverviewResponse::Overview(Json(Box::new(state.stats.overview(range).await?))))
    }

    /// Usage per user per day, as CSV
    #[oai(path = "/api/admin/stats/export.csv", method = "get", operation_id = "admin_export_csv")]
    async fn export_csv(
        &self,
        _admin: AdminOnly,
        state: Data<&AppState>,
        from: Query<Option<String>>,
        to: Query<Option<String>>,
    ) -> Result<CsvResponse, ApiError> {
        let range = DayRange::parse(from.0.as_deref(), to.0.as_deref())?;
        let csv = state.stats.export_csv(range).await?;
        let disposition =
            format!("attachment; filename=\"troupe-usage-{}-to-{}.csv\"", range.from_key(), range.to_key());
        Ok(CsvResponse::Csv(PlainText(csv), disposition))
    }
}
