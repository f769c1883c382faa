//! The product end to end: headless Chromium → nginx (the project's nginx.conf) → the server
//! binary → SQLite, with the demo model. Needs nginx, chromium and chromium-driver from
//! Debian; the web app is built by `frontend/build.sh` on the first run.

mod cards;
mod conversation_tools;
mod dashboard;
mod embed;
mod first_run;
mod journey;
mod keys;
mod page;
mod rooms;
mod stack;
mod systems;
mod through_nginx;
