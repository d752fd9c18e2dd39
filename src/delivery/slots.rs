//! The process's delivery slots, and claiming ahead of them.
//!
//! A call holds one of the `PORTAL_DELIVERY_CONCURRENCY` slots while it starts (one that turns
//! slow gives it back, see [`super::fairness`]). A claim takes a moment of its own, and a slot
//! that frees while the dispatcher claims would stand idle until the next claim: under a
//! steady stream of quick calls that idle time was most of a slot's time. So the dispatcher
//! claims *ahead*: as many calls beyond the free slots as calls finished since its last claim,
//! up to half the concurrency. Those calls wait here for a slot and start the moment one
//! frees. When calls are slow or few, hardly any finish between two claims and nothing is
//! claimed ahead: a call never waits long behind calls claimed before it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

pub(super) struct Slots {
    concurrency: usize,
    /// At most this many are claimed ahead: half the slots, so that an account's calls to one
    /// host, which may exceed their cap by as many, still leave room for its other hosts (see
    /// `Caps::with_ahead`).
    max_ahead: u64,
    /// Calls finished when the last claim was made.
    finished_at_claim: AtomicU64,
    /// One per slot: held by a call while it starts.
    calls: Arc<Semaphore>,
    /// Claimed calls waiting for a slot.
    waiting: AtomicUsize,
    /// Calls finished so far (a call that turned slow counts when it ends).
    finished: AtomicU64,
    /// Wakes the dispatcher when a slot is given back or taken by a waiting call.
    changed: Notify,
}

/// A claimed call's slot, given back when dropped.
pub(super) struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The slot is free before the dispatcher is woken: woken first, it could find none
        // free, wait again, and miss the slot.
        drop(self.permit.take());
        self.slots.changed.notify_one();
    }
}

impl Slots {
    pub(super) fn new(concurrency: usize) -> Arc<Slots> {
        Arc::new(Slots {
            concurrency,
            max_ahead: concurrency as u64 / 2,
            finished_at_claim: AtomicU64::new(0),
            calls: Arc::new(Semaphore::new(concurrency)),
            waiting: AtomicUsize::new(0),
            finished: AtomicU64::new(0),
            changed: Notify::new(),
        })
    }

    /// The calls a claim may take now: one per free slot, and `ahead` more, less those
    /// already claimed and waiting.
    pub(super) fn wanted(&self, ahead: usize) -> usize {
        (self.calls.available_permits() + ahead).saturating_sub(self.waiting.load(Ordering::Acquire))
    }

    /// How many calls a claim may take ahead of the free slots: as many as finished since the
    /// last claim (at most half the slots), none while any call is slow.
    pub(super) fn ahead(&self, any_slow: bool) -> usize {
        if any_slow {
            return 0;
        }
        let since = self.finished() - self.finished_at_claim.load(Ordering::Acquire);
        since.min(self.max_ahead) as usize
    }

    /// Notes that a claim is being made (calls finished from now on count towards the next).
    pub(super) fn claiming(&self) {
        self.finished_at_claim.store(self.finished(), Ordering::Release);
    }

    /// Whether any call holds a slot.
    pub(super) fn busy(&self) -> bool {
        self.calls.available_permits() < self.concurrency
    }

    /// Calls finished so far.
    fn finished(&self) -> u64 {
        self.finished.load(Ordering::Acquire)
    }

    /// Resolves when a slot may have been given back or taken (a missed moment is kept: the
    /// next call resolves at once).
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Notes a call the dispatcher claimed: it waits for its slot in [`Slots::take`].
    pub(super) fn claimed(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    /// Waits for a slot for a claimed call (first claimed, first served); `None` only if the
    /// slots were closed, which they never are.
    pub(super) async fn take(self: &Arc<Self>) -> Option<Slot> {
        let permit = self.calls.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_one();
        Some(Slot {
            permit: Some(permit.ok()?),
            slots: self.clone(),
        })
    }

    /// Notes a call that ended (whether it held its slot to the end or had turned slow).
    pub(super) fn call_finished(&self) {
        self.finished.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn claims_take_the_free_slots_and_as_many_ahead_less_those_waiting() {
        let slots = Slots::new(2);
        assert_eq!(slots.wanted(0), 2, "both slots free");
        assert!(!slots.busy());
        slots.claimed();
        slots.claimed();
        slots.claimed();
        assert_eq!(slots.wanted(0), 0, "three claimed for two free slots");
        let first = slots.take().await.expect("a slot");
        let second = slots.take().await.expect("a slot");
        assert!(slots.busy());
        assert_eq!(
            (slots.wanted(0), slots.wanted(2)),
            (0, 1),
            "one still waits; one more may be claimed ahead"
        );

        // The waiting call takes the first slot given back, and the dispatcher hears of both.
        let third = tokio::spawn({
            let slots = slots.clone();
            async move { slots.take().await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "no slot is free yet");
        drop(first);
        slots.call_finished();
        let third = third.await.expect("the waiting call");
        assert!(third.is_some(), "it got the slot");
        tokio::time::timeout(std::time::Duration::from_secs(1), slots.changed())
            .await
            .expect("the dispatcher is woken");
        assert_eq!((slots.finished(), slots.wanted(0)), (1, 0));
        drop(second);
        slots.call_finished();
        assert_eq!((slots.finished(), slots.wanted(0), slots.wanted(1)), (2, 1, 2));
    }
}
