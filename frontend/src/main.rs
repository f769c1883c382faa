//! Troupe's web app: a Yew single-page app, compiled to WebAssembly by trunk.
//!
//! `app` holds the shell (session, language, routes), `pages` one module per screen,
//! `components` the pieces pages share, `services` every call to the API.

mod app;
mod components;
mod format;
mod hooks;
mod i18n;
mod pages;
mod services;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
