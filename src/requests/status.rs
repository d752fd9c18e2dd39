//! A request's status and the vendor actions that move it: the queue's life cycle.

/// Where a request is in its queue; stored as text, shown and sent by the API as `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    Draft,
    Pending,
    Inquiring,
    Approved,
    Failed,
}

impl RequestStatus {
    /// In the order the queue filter offers them.
    pub const ALL: [RequestStatus; 5] = [
        RequestStatus::Draft,
        RequestStatus::Pending,
        RequestStatus::Inquiring,
        RequestStatus::Approved,
        RequestStatus::Failed,
    ];

    /// Still waiting for the vendor: what the products page counts as open.
    pub const OPEN: [RequestStatus; 3] = [RequestStatus::Draft, RequestStatus::Pending, RequestStatus::Inquiring];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Draft => "draft",
            RequestStatus::Pending => "pending",
            RequestStatus::Inquiring => "inquiring",
            RequestStatus::Approved => "approved",
            RequestStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<RequestStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::db::text_column!(RequestStatus);

/// What a vendor does to a request; the last part of `/requests/{id}/{action}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestAction {
    Submit,
    Approve,
    Fail,
    Inquire,
}

impl RequestAction {
    pub const ALL: [RequestAction; 4] = [
        RequestAction::Submit,
        RequestAction::Approve,
        RequestAction::Fail,
        RequestAction::Inquire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestAction::Submit => "submit",
            RequestAction::Approve => "approve",
            RequestAction::Fail => "fail",
            RequestAction::Inquire => "inquire",
        }
    }

    pub fn parse(raw: &str) -> Option<RequestAction> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }

    /// The status the action leads to.
    pub fn target(self) -> RequestStatus {
        match self {
            RequestAction::Submit => RequestStatus::Pending,
            RequestAction::Approve => RequestStatus::Approved,
            RequestAction::Fail => RequestStatus::Failed,
            RequestAction::Inquire => RequestStatus::Inquiring,
        }
    }
}

impl std::fmt::Display for RequestAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The statuses a request may move to by a vendor action: (action, new status, allowed from).
pub const ACTIONS: [(RequestAction, RequestStatus, &[RequestStatus]); 4] = [
    (RequestAction::Submit, RequestStatus::Pending, &[RequestStatus::Draft]),
    (
        RequestAction::Approve,
        RequestStatus::Approved,
        &[RequestStatus::Pending, RequestStatus::Inquiring],
    ),
    (
        RequestAction::Fail,
        RequestStatus::Failed,
        &[RequestStatus::Pending, RequestStatus::Inquiring],
    ),
    (
        RequestAction::Inquire,
        RequestStatus::Inquiring,
        &[RequestStatus::Pending],
    ),
];

/// The status an action leads to, if the request's current status allows it.
pub fn transition(action: RequestAction, from: RequestStatus) -> Option<RequestStatus> {
    ACTIONS
        .iter()
        .find(|(a, _, allowed)| *a == action && allowed.contains(&from))
        .map(|(_, to, _)| *to)
}

/// The actions a request in `status` allows, in [`ACTIONS`] order.
pub fn actions_from(status: RequestStatus) -> Vec<RequestAction> {
    ACTIONS
        .iter()
        .filter(|(_, _, from)| from.contains(&status))
        .map(|(a, _, _)| *a)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
        }
        for a in RequestAction::ALL {
            assert_eq!(RequestAction::parse(a.as_str()), Some(a));
        }
        for (a, to, _) in ACTIONS {
            assert_eq!(a.target(), to);
        }
        assert_eq!(RequestStatus::parse("open"), None);
        assert_eq!(RequestAction::parse("validate"), None);
    }

    #[test]
    fn transitions_follow_the_table() {
        use RequestAction::*;
        use RequestStatus::*;
        assert_eq!(transition(Submit, Draft), Some(Pending));
        assert_eq!(transition(Approve, Inquiring), Some(Approved));
        assert_eq!(transition(Approve, Draft), None);
        assert_eq!(transition(Inquire, Inquiring), None);
        assert_eq!(actions_from(Pending), vec![Approve, Fail, Inquire]);
        assert!(actions_from(Approved).is_empty());
    }
}
