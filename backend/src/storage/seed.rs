//! Synthetic data for demos and benchmarks: users, characters, chats and messages spread over
//! a number of days. The database's triggers book the usage ledger for every inserted chat,
//! user message and generation, exactly as for turns sent through the API.

use std::collections::HashMap;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::IndexedRandom};

use super::{Db, Engine, StorageError};
use crate::clock::{DAY_MS, Millis, now_millis};

/// What to generate.
#[derive(Clone, Debug)]
pub struct SeedPlan {
    pub users: usize,
    pub days: i64,
    /// Messages in all (user and assistant, half each).
    pub messages: usize,
    /// Model ids to spread chats over.
    pub models: Vec<String>,
    /// The password hash every seeded user gets.
    pub password_hash: String,
    pub rng_seed: u64,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub characters: usize,
    pub chats: usize,
    pub messages: usize,
}

const ROWS_PER_INSERT: usize = 400;
const NAMES: [&str; 12] =
    ["Aria", "Borin", "Cyra", "Dax", "Elowen", "Fenn", "Gala", "Hiro", "Isolde", "Jun", "Kael", "Lumi"];
const LINES: [&str; 6] = [
    "Tell me about your day.",
    "What would you do if the storm came back?",
    "Sing me something short.",
    "I found a map in the attic.",
    "Do you remember the lighthouse?",
    "안녕하세요! 오늘 기분이 어때요?",
];

/// A value to bind in a generated multi-row insert.
enum Val {
    Int(i64),
    Text(String),
    OptInt(Option<i64>),
}

/// Inserts `rows` into `table` in batches of multi-row `INSERT`s, inside `tx`.
async fn insert_rows(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Val>>,
) -> Result<(), StorageError> {
    for batch in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        let mut n = 0;
        for (i, _) in batch.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            let placeholders: Vec<String> = columns
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect();
            sql.push_str(&format!("({})", placeholders.join(", ")));
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in batch {
            for value in row {
                query = match value {
                    Val::Int(v) => query.bind(*v),
                    Val::Text(v) => query.bind(v.clone()),
                    Val::OptInt(v) => query.bind(*v),
                };
            }
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn next_id(db: &Db, table: &str) -> Result<i64, StorageError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM {table}"));
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(db.pool()).await? + 1)
}

struct ChatPlan {
    id: i64,
    user: i64,
    character: i64,
    model: String,
    created_at: Millis,
}

/// Generates and stores the data; returns what was added.
pub async fn seed(db: &Db, plan: &SeedPlan) -> Result<SeedReport, StorageError> {
    let mut rng = StdRng::seed_from_u64(plan.rng_seed);
    let now = now_millis();
    let start = now - plan.days * DAY_MS;
    let (user0, char0, chat0, msg0) = (
        next_id(db, "users").await?,
        next_id(db, "characters").await?,
        next_id(db, "chats").await?,
        next_id(db, "messages").await?,
    );
    let mut tx = db.writer().begin().await?;

    // Users, created over the period (a quarter before it).
    let mut user_created = Vec::with_capacity(plan.users);
    let mut rows = Vec::new();
    for i in 0..plan.users {
        let created = start - DAY_MS * 30 + rng.random_range(0..(plan.days + 30) * DAY_MS) / 2;
        user_created.push(created);
        let id = user0 + i as i64;
        rows.push(vec![
            Val::Int(id),
            Val::Text(format!("seed_{id}")),
            Val::Text(plan.password_hash.clone()),
            Val::Int(created),
        ]);
    }
    insert_rows(&mut tx, "users", &["id", "username", "password_hash", "created_at"], rows).await?;

    // Characters: one per ten users, a third of them public.
    let characters = (plan.users / 10).max(3);
    let mut public = Vec::new();
    let mut owned: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut rows = Vec::new();
    for i in 0..characters {
        let id = char0 + i as i64;
        let owner = user0 + rng.random_range(0..plan.users) as i64;
        let is_public = i % 3 == 0;
        if is_public {
            public.push(id)
        } else {
            owned.entry(owner).or_default().push(id)
        }
        let name = format!("{} {}", NAMES[i % NAMES.len()], i / NAMES.len() + 1);
        rows.push(vec![
            Val::Int(id),
            Val::Int(owner),
            Val::Text(name),
            Val::Text("A seeded character for demos.".into()),
            Val::Text(format!("You are {{{{char}}}}, character number {i}.")),
            Val::Text("Hello, {{user}}!".into()),
            Val::Text(if is_public { "public" } else { "private" }.into()),
            Val::Int(start),
            Val::Int(start),
        ]);
    }
    let columns = [
        "id",
        "owner_id",
        "name",
        "description",
        "system_prompt",
        "greeting",
        "visibility",
        "created_at",
        "updated_at",
    ];
    insert_rows(&mut tx, "characters", &columns, rows).await?;

    // Chats: each user talks with one to three characters it can see.
    let mut chats: Vec<ChatPlan> = Vec::new();
    for (u, user_since) in user_created.iter().enumerate() {
        let user = user0 + u as i64;
        let mut visible: Vec<i64> = public.clone();
        visible.extend(owned.get(&user).into_iter().flatten());
        for _ in 0..rng.random_range(1..=3) {
            let created = (*user_since).max(start) + rng.random_range(0..DAY_MS);
            chats.push(ChatPlan {
                id: chat0 + chats.len() as i64,
                user,
                character: *visible.choose(&mut rng).expect("there are public characters"),
                model: plan.models.choose(&mut rng).expect("at least one model").clone(),
                created_at: created.min(now - 1),
            });
        }
    }

    // Messages: turns (a user message, then a reply) at random times after each chat began.
    let turns = plan.messages / 2;
    let mut turn_times: Vec<(usize, Millis)> = (0..turns)
        .map(|_| {
            let c = rng.random_range(0..chats.len());
            let span = (now - 2_000 - chats[c].created_at).max(1);
            (c, chats[c].created_at + rng.random_range(0..span))
        })
        .collect();
    turn_times.sort_by_key(|(_, at)| *at);
    let mut rows = Vec::with_capacity(turns * 2);
    for (c, at) in turn_times {
        let chat = &chats[c];
        let line = LINES[rows.len() / 2 % LINES.len()];
        let (prompt, completion) = (rng.random_range(60..600i64), rng.random_range(20..250i64));
        let id = msg0 + rows.len() as i64;
        rows.push(vec![
            Val::Int(id),
            Val::Int(chat.id),
            Val::Int(chat.user),
            Val::Int(chat.character),
            Val::Text("user".into()),
            Val::Text(line.into()),
            Val::Text("complete".into()),
            Val::Text(chat.model.clone()),
            Val::Int(0),
            Val::Int(0),
            Val::Int(line.len() as i64 / 4 + 1),
            Val::OptInt(None),
            Val::Int(at),
        ]);
        rows.push(vec![
            Val::Int(id + 1),
            Val::Int(chat.id),
            Val::Int(chat.user),
            Val::Int(chat.character),
            Val::Text("assistant".into()),
            Val::Text(format!("(seeded reply to: {line})")),
            Val::Text("complete".into()),
            Val::Text(chat.model.clone()),
            Val::Int(prompt),
            Val::Int(completion),
            Val::Int(completion),
            Val::OptInt(Some(rng.random_range(200..3000))),
            Val::Int(at + 1),
        ]);
    }
    let chat_rows = chats
        .iter()
        .map(|c| {
            vec![
                Val::Int(c.id),
                Val::Int(c.user),
                Val::Int(c.character),
                Val::Text("Seeded chat".into()),
                Val::Text(c.model.clone()),
                Val::Int(c.created_at),
                Val::Int(c.created_at),
            ]
        })
        .collect();
    let columns = ["id", "user_id", "character_id", "title", "model", "created_at", "last_message_at"];
    insert_rows(&mut tx, "chats", &columns, chat_rows).await?;
    let message_count = rows.len();
    let columns = [
        "id",
        "chat_id",
        "user_id",
        "character_id",
        "role",
        "content",
        "status",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "token_count",
        "upstream_latency_ms",
        "created_at",
    ];
    insert_rows(&mut tx, "messages", &columns, rows).await?;
    // Replies are charged through their generation records (migration 0005), as for turns sent
    // through the API.
    sqlx::query(
        "INSERT INTO generations (user_id, chat_id, message_id, character_id, model, status, prompt_tokens, \
         completion_tokens, usage_source, created_at) \
         SELECT user_id, chat_id, id, character_id, model, status, prompt_tokens, completion_tokens, 'estimated', \
         created_at FROM messages WHERE role = 'assistant' AND id >= $1",
    )
    .bind(msg0)
    .execute(&mut *tx)
    .await?;
    if db.engine() == Engine::Postgres {
        // Explicit ids do not move identity sequences.
        for table in ["users", "characters", "chats", "messages"] {
            let sql = format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    // After a bulk load on PostgreSQL: fresh planner statistics, and the dead row versions the
    // ledger triggers' updates left behind cleared (autovacuum would get there later). Not on
    // SQLite: there its statistics steer the range scans off the covering index (measured
    // 0.2 s → 0.6 s for the 90-day overview).
    if db.engine() == Engine::Postgres {
        // The ledger's triggers rewrote each user's rows once per message within the one
        // transaction, which left `users` and `user_totals` ~50 times their size (88 MB for
        // 10,000 users), something a live server's updates, spread over time, never do.
        for table in ["users", "user_totals"] {
            let sql = format!("VACUUM (FULL, ANALYZE) {table}");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(db.writer()).await?;
        }
        sqlx::query("VACUUM ANALYZE").execute(db.writer()).await?;
    }
    Ok(SeedReport { users: plan.users, characters, chats: chats.len(), messages: message_count })
}
