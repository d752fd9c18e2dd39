//! What a user may do. Everyone signed in may view everything of their account; the rest is
//! granted user by user: seed 003's three webhook permissions (create, edit, delete), API
//! tokens and users. Pages hide what a user may not do, and every handler that changes
//! something checks again with [`super::CurrentUser::require`].

use crate::forms::FormFields;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    CreateWebhooks,
    EditWebhooks,
    DeleteWebhooks,
    ManageTokens,
    ManageUsers,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::CreateWebhooks,
        Permission::EditWebhooks,
        Permission::DeleteWebhooks,
        Permission::ManageTokens,
        Permission::ManageUsers,
    ];

    /// The three a webhook permission of an API token can be.
    pub const WEBHOOKS: [Permission; 3] = [
        Permission::CreateWebhooks,
        Permission::EditWebhooks,
        Permission::DeleteWebhooks,
    ];

    /// The form field (a checkbox) and the word the API and CLI use.
    pub fn field(self) -> &'static str {
        match self {
            Permission::CreateWebhooks => "create_webhooks",
            Permission::EditWebhooks => "edit_webhooks",
            Permission::DeleteWebhooks => "delete_webhooks",
            Permission::ManageTokens => "manage_tokens",
            Permission::ManageUsers => "manage_users",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Permission::CreateWebhooks => "Create webhooks",
            Permission::EditWebhooks => "Edit webhooks",
            Permission::DeleteWebhooks => "Delete webhooks",
            Permission::ManageTokens => "Manage API tokens",
            Permission::ManageUsers => "Manage users",
        }
    }

    /// The word in a list of chips.
    pub fn short(self) -> &'static str {
        match self {
            Permission::CreateWebhooks => "Create",
            Permission::EditWebhooks => "Edit",
            Permission::DeleteWebhooks => "Delete",
            Permission::ManageTokens => "Tokens",
            Permission::ManageUsers => "Users",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Permission::CreateWebhooks => "Create webhooks (the wizard, the API's POST) and inbound triggers.",
            Permission::EditWebhooks => {
                "Change settings, enable and disable, Trigger now, send test pings, reveal secrets, \
                 manage inbound trigger keys and move test requests."
            }
            Permission::DeleteWebhooks => "Delete webhooks and inbound triggers.",
            Permission::ManageTokens => {
                "Create and revoke API tokens, which get at most this user's webhook permissions."
            }
            Permission::ManageUsers => {
                "Add users, change what anyone may do (themselves included), deactivate them and reset \
                 their passwords: in effect, full control of the account."
            }
        }
    }
}

/// The permissions of a user or an API token; viewing needs none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions {
    pub create_webhooks: bool,
    pub edit_webhooks: bool,
    pub delete_webhooks: bool,
    pub manage_tokens: bool,
    pub manage_users: bool,
}

impl Permissions {
    /// An admin: everything.
    pub const ALL: Permissions = Permissions {
        create_webhooks: true,
        edit_webhooks: true,
        delete_webhooks: true,
        manage_tokens: true,
        manage_users: true,
    };

    /// A viewer: nothing but viewing.
    pub const VIEW: Permissions = Permissions {
        create_webhooks: false,
        edit_webhooks: false,
        delete_webhooks: false,
        manage_tokens: false,
        manage_users: false,
    };

    pub fn has(&self, p: Permission) -> bool {
        match p {
            Permission::CreateWebhooks => self.create_webhooks,
            Permission::EditWebhooks => self.edit_webhooks,
            Permission::DeleteWebhooks => self.delete_webhooks,
            Permission::ManageTokens => self.manage_tokens,
            Permission::ManageUsers => self.manage_users,
        }
    }

    pub fn set(&mut self, p: Permission, on: bool) {
        let slot = match p {
            Permission::CreateWebhooks => &mut self.create_webhooks,
            Permission::EditWebhooks => &mut self.edit_webhooks,
            Permission::DeleteWebhooks => &mut self.delete_webhooks,
            Permission::ManageTokens => &mut self.manage_tokens,
            Permission::ManageUsers => &mut self.manage_users,
        };
        *slot = on;
    }

    /// The ones granted, in the order of [`Permission::ALL`].
    pub fn granted(&self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.has(*p)).collect()
    }

    /// The checkboxes of `only` ticked in a form.
    pub fn from_form(form: &FormFields, only: &[Permission]) -> Permissions {
        let mut permissions = Permissions::VIEW;
        for p in only {
            permissions.set(*p, form.checked(p.field()));
        }
        permissions
    }

    /// One word for the header and the users list.
    pub fn summary(&self) -> &'static str {
        if *self == Permissions::ALL {
            "Admin"
        } else if *self == Permissions::VIEW {
            "Viewer"
        } else {
            "Custom access"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_grant_only_the_boxes_asked_for() {
        let form = FormFields::parse(b"create_webhooks=on&manage_users=on&delete_webhooks=off");
        let p = Permissions::from_form(&form, &Permission::ALL);
        assert_eq!(p.granted(), vec![Permission::CreateWebhooks, Permission::ManageUsers]);
        let p = Permissions::from_form(&form, &Permission::WEBHOOKS);
        assert_eq!(p.granted(), vec![Permission::CreateWebhooks]);
        assert_eq!(Permissions::ALL.summary(), "Admin");
        assert_eq!(Permissions::VIEW.summary(), "Viewer");
        assert_eq!(p.summary(), "Custom access");
    }
}
