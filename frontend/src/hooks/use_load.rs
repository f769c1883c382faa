//! Load, then show: the one shape of every page's "ask the API when these inputs change".

use std::{future::Future, rc::Rc};

use yew::prelude::*;

use super::liveness;
use crate::services::{ApiError, ApiResult};

/// What `use_load` has so far: nothing until the first answer, then the latest one. While the
/// next answer is on its way the previous one stays, so pages do not flicker.
pub struct Loaded<T>(UseStateHandle<Option<Result<Rc<T>, ApiError>>>);

impl<T> Loaded<T> {
    /// The latest answer, if it was a success.
    pub fn value(&self) -> Option<Rc<T>> {
        self.0.as_ref().and_then(|answer| answer.as_ref().ok()).cloned()
    }

    /// The latest answer, if it was a failure.
    pub fn error(&self) -> Option<&ApiError> {
        self.0.as_ref().and_then(|answer| answer.as_ref().err())
    }
}

/// Runs `load(deps)` whenever `deps` change. An answer to older `deps` never replaces a newer
/// one: the effect's liveness flag drops when its inputs change or the component goes away.
#[hook]
pub fn use_load<D, T, F, Fut>(deps: D, load: F) -> Loaded<T>
where
    D: PartialEq + Clone + 'static,
    T: 'static,
    F: FnOnce(D) -> Fut + 'static,
    Fut: Future<Output = ApiResult<T>> + 'static,
{
    let answer = use_state(|| None);
    {
        let answer = answer.clone();
        use_effect_with(deps, move |deps| {
            let (live, end) = liveness();
            let loading = load(deps.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let result = loading.await.map(Rc::new);
                if live.get() {
                    answer.set(Some(result));
                }
            });
            end
        });
    }
    Loaded(answer)
}
