//! Products: the queues' owners. The portal does not manage them; the demo seed creates some.

use sqlx::PgConnection;

use crate::ids::{AccountId, ProductId};

/// Creates a product of the vendor account; its new id.
pub async fn insert_product(
    conn: &mut PgConnection,
    vendor_account_id: &AccountId,
    name: &str,
    short_description: &str,
    capabilities: &[String],
) -> Result<ProductId, sqlx::Error> {
    let id = ProductId::generate();
    sqlx::query!(
        "insert into products (id, vendor_account_id, name, short_description, capabilities) values ($1, $2, $3, $4, $5)",
        id.as_str(),
        vendor_account_id.as_str(),
        name,
        short_description,
        capabilities,
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// Lists the product for a distributor account (vendors use the products they own).
pub async fn grant_product(
    conn: &mut PgConnection,
    account_id: &AccountId,
    product_id: &ProductId,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "insert into account_products (account_id, product_id) values ($1, $2)",
        account_id.as_str(),
        product_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(())
}
