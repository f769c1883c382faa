//! Troupe's web app: a Yew single-page app, compiled to WebAssembly by trunk.
//!
//! `app` holds the shell (language, which page a route shows), `routes` the addresses,
//! `session` who is signed in, `pages` one module per screen, `components` the pieces pages
//! share, `hooks` the shared hooks, `services` every call to the API.

mod app;
mod components;
mod format;
mod hooks;
mod i18n;
mod pages;
mod routes;
mod services;
mod session;

fn main() {
    yew::Renderer::<app::App>::new().render();
}
