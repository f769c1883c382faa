//! Troupe's web apps: Yew single-page apps, compiled to WebAssembly by trunk, and what they
//! share (this library).
//!
//! - `app/` is the app everyone uses (chats, characters, signing in), at `/`;
//! - `admin/` the admin console (dashboard, users, conversations, shared prompts), at `/admin`.
//!   It is an app of its own so that its code is downloaded by admins only, when they open it;
//! - `account/` the account pages (API keys), at `/account`;
//! - `embed/` the chat other products show in a frame, at `/embed`, on a chat token;
//! - `rooms/` the live rooms (many people and one character, over a WebSocket), at `/rooms`.
//!
//! All stand on this library: `shell` (the session and the language every page reads),
//! `components` the pieces pages share, `hooks` the shared hooks, `services` every call to the
//! API, `i18n` the words, `format` numbers and dates, `not_found` the pages for nowhere, and
//! `conversation` one chat's messages and composer (the main app's chat page and the embed; the
//! live rooms write with its composer too).

pub mod components;
pub mod conversation;
pub mod format;
pub mod hooks;
pub mod i18n;
pub mod not_found;
pub mod services;
pub mod session;
pub mod shell;
