//! Characters as cards (`/api/characters/import`, `/api/characters/{id}/export`) and their
//! pictures (`/api/characters/{id}/avatar`).

use poem::{
    IntoResponse, Response,
    http::{StatusCode, header},
    web::Data,
};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry},
};
use troupe_types::{CardImports, Character, Visibility};

use super::{
    ApiTags,
    credentials::Authenticated,
    error::ApiError,
    upload::{Upload, Uploads},
};
use crate::{
    domain::CharacterId,
    services::characters::cards::{CardFile, CardFormat},
    state::AppState,
};

#[derive(Default)]
pub struct CardsApi;

#[derive(ApiResponse)]
enum ImportResponse {
    /// One item per file, in order: the character it became, or the error that stopped it.
    #[oai(status = 200)]
    Imported(Json<CardImports>),
}

#[derive(ApiResponse)]
enum AvatarSetResponse {
    /// The character, with `has_avatar`.
    #[oai(status = 200)]
    Character(Json<Character>),
}

#[derive(ApiResponse)]
enum AvatarDeletedResponse {
    /// Removed (or there was none).
    #[oai(status = 204)]
    Deleted,
}

/// May be stored, but asked about each time (the ETag makes that cheap).
const AVATAR_CACHE: &str = "private, no-cache";

#[OpenApi(tag = "ApiTags::Characters")]
impl CardsApi {
    /// Import character cards
    ///
    /// One or more `file` parts (at most 100 files, 32 MiB in all): PNG cards (the `ccv3` text
    /// chunk preferred over `chara`; tEXt, zTXt or iTXt), JSON cards (V1 flat fields,
    /// `chara_card_v2`, `chara_card_v3`) or CHARX zips (`card.json`; the main `icon` asset
    /// becomes the avatar, as a PNG card's picture does). Each file becomes a character of the
    /// caller's, private unless `visibility=public`; a file that is not a card
    /// (`not_a_character_card`), is broken (`invalid_card`, `invalid_image`) or breaks a rule
    /// (with `field`) is reported in its item, stores nothing, and never stops the others. The
    /// card's fields Troupe does not model are kept for export; a model this server does not
    /// offer is left out.
    #[oai(path = "/api/characters/import", method = "post", operation_id = "import_characters")]
    async fn import(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        visibility: Query<Option<Visibility>>,
        files: Uploads,
    ) -> Result<ImportResponse, ApiError> {
        let items = state.characters.import(&auth.0.user, files.0, visibility.0.unwrap_or_default()).await?;
        Ok(ImportResponse::Imported(Json(CardImports { items })))
    }

    /// Export a character card
    ///
    /// `format=png` (default): the avatar (or a plain picture) with a Character Card V2 `chara`
    /// chunk and a V3 `ccv3` chunk; `format=json`: Character Card V3. Importing it gives the same
    /// character back, `extensions` and lorebook included (Troupe's model and avatar URL travel
    /// in `extensions.troupe`). For whoever may read the character.
    #[oai(path = "/api/characters/:id/export", method = "get", operation_id = "export_character")]
    async fn export(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
        format: Query<Option<CardFormat>>,
    ) -> Result<ExportedCard, ApiError> {
        let file = state.characters.export(&auth.0.user, id.0, format.0.unwrap_or(CardFormat::Png)).await?;
        Ok(ExportedCard(file))
    }

    /// Upload an avatar
    ///
    /// The image as the body (or a multipart `file` part): PNG, JPEG or WebP, at most 5 MiB. It
    /// is decoded and encoded again (metadata dropped, at most 1024 px a side; JPEG stays JPEG,
    /// the others become PNG); anything else is 422 `invalid_image`. Owner or admin.
    #[oai(path = "/api/characters/:id/avatar", method = "put", operation_id = "set_avatar")]
    async fn set_avatar(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
        image: Upload,
    ) -> Result<AvatarSetResponse, ApiError> {
        let character = state.characters.set_avatar(&auth.0.user, id.0, image.0).await?;
        Ok(AvatarSetResponse::Character(Json(character.into())))
    }

    /// Remove the avatar
    #[oai(path = "/api/characters/:id/avatar", method = "delete", operation_id = "delete_avatar")]
    async fn delete_avatar(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
    ) -> Result<AvatarDeletedResponse, ApiError> {
        state.characters.delete_avatar(&auth.0.user, id.0).await?;
        Ok(AvatarDeletedResponse::Deleted)
    }

    /// Get the avatar
    ///
    /// For whoever may read the character; 404 when it has none. With `ETag` and
    /// `Cache-Control: private, no-cache`: a client that sends `If-None-Match` with the tag it
    /// has gets 304.
    #[oai(path = "/api/characters/:id/avatar", method = "get", operation_id = "get_avatar")]
    async fn avatar(
        &self,
        auth: Authenticated,
        state: Data<&AppState>,
        id: Path<CharacterId>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<AvatarResponse, ApiError> {
        if let Some(known) = if_none_match.0 {
            let current = state.characters.avatar_etag(&auth.0.user, id.0).await?;
            if let Some(etag) = current.filter(|etag| known.split(',').any(|k| k.trim() == etag)) {
                return Ok(AvatarResponse::NotModified { etag });
            }
        }
        let avatar = state.characters.avatar(&auth.0.user, id.0).await?;
        Ok(AvatarResponse::Image { bytes: avatar.image, content_type: avatar.content_type, etag: avatar.etag })
    }
}

/// The avatar, or word that the client's copy is current. Described by hand: the derive keeps
/// one media type per status, and an avatar is PNG or JPEG.
pub enum AvatarResponse {
    Image { bytes: Vec<u8>, content_type: String, etag: String },
    NotModified { etag: String },
}

impl ApiResponse for AvatarResponse {
    fn meta() -> MetaResponses {
        let cache_headers =
            || vec![header_meta("ETag", "The image's version."), header_meta("Cache-Control", "`private, no-cache`")];
        let image =
            || MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }));
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The image. Browsers may keep it, asking again with `If-None-Match`.",
                    status: Some(200),
                    status_range: None,
                    content: vec![
                        MetaMediaType { content_type: "image/png", schema: image() },
                        MetaMediaType { content_type: "image/jpeg", schema: image() },
                    ],
                    headers: cache_headers(),
                },
                MetaResponse {
                    description: "The image the client has is the current one.",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: cache_headers(),
                },
            ],
        }
    }

    fn register(_: &mut Registry) {}
}

impl IntoResponse for AvatarResponse {
    fn into_response(self) -> Response {
        let builder = Response::builder().header(header::CACHE_CONTROL, AVATAR_CACHE);
        match self {
            Self::Image { bytes, content_type, etag } => {
                builder.status(StatusCode::OK).content_type(content_type).header(header::ETAG, etag).body(bytes)
            }
            Self::NotModified { etag } => builder.status(StatusCode::NOT_MODIFIED).header(header::ETAG, etag).finish(),
        }
    }
}

fn header_meta(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.into(),
        description: Some(description.into()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
    }
}

/// A card as a download, in the media type of its format. Described by hand: the derive keeps
/// one media type per status, and this one answer has two.
pub struct ExportedCard(CardFile);

impl ApiResponse for ExportedCard {
    fn meta() -> MetaResponses {
        let schema =
            |ty: &'static str, format| MetaSchemaRef::Inline(Box::new(MetaSchema { format, ..MetaSchema::new(ty) }));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The card: `image/png` (format=png) or `application/json` (format=json).",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType { content_type: "image/png", schema: schema("string", Some("binary")) },
                    MetaMediaType { content_type: "application/json; charset=utf-8", schema: schema("object", None) },
                ],
                headers: vec![header_meta("Content-Disposition", "`attachment; filename=\"{name}.{png|json}\"`")],
            }],
        }
    }

    fn register(_: &mut Registry) {}
}

impl IntoResponse for ExportedCard {
    fn into_response(self) -> Response {
        let file = self.0;
        Response::builder()
            .status(StatusCode::OK)
            .content_type(file.content_type)
            .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", file.file_name))
            .body(file.bytes)
    }
}
