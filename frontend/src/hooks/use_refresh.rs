//! A refresh counter that loading effects depend on, and the liveness flag of an effect.

use std::{cell::Cell, rc::Rc};

use yew::prelude::*;

/// A number that loading effects depend on, moved on to load again. Moving it on goes through
/// a reducer, so an `async` task holding an old render's handle still counts up from the
/// latest value (a copied `use_state` number would be set to the same value twice).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Generation(pub u32);

impl Reducible for Generation {
    type Action = ();

    fn reduce(self: Rc<Self>, _: ()) -> Rc<Self> {
        Rc::new(Generation(self.0 + 1))
    }
}

#[hook]
pub fn use_refresh() -> UseReducerHandle<Generation> {
    use_reducer(Generation::default)
}

/// A flag that stays up until the effect that made it is cleaned up (its inputs changed, or
/// the component went away). A task checks it before storing its answer, so a slow answer to
/// an old query never overwrites a newer one. Return the second value from the effect.
pub fn liveness() -> (Rc<Cell<bool>>, impl FnOnce()) {
    let live = Rc::new(Cell::new(true));
    let flag = live.clone();
    (live, move || flag.set(false))
}
