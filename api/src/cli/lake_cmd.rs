//! `bb lake`: list tables (versions, rows, partitions), compact small files, vacuum old ones.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use lake::LakeTable;

use super::global::GlobalArgs;

#[derive(Debug, Args)]
pub struct LakeArgs {
    #[command(subcommand)]
    pub command: LakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum LakeCommand {
    /// List tables with version, files, rows, size and partitions.
    Ls,
    /// Rewrite small files into larger ones (data unchanged; a new version).
    Compact {
        /// Table to compact (all when omitted).
        table: Option<String>,
    },
    /// Delete files no longer referenced by recent versions (time travel before the retention is lost).
    Vacuum {
        /// Table to vacuum (all when omitted).
        table: Option<String>,
        /// Keep files needed by versions younger than this many hours.
        #[arg(long, default_value_t = 168)]
        retention_hours: u64,
        /// Only list what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
}

fn tables(name: &Option<String>) -> anyhow::Result<Vec<LakeTable>> {
    Ok(match name {
        Some(n) => vec![LakeTable::from_name(n)?],
        None => LakeTable::ALL.to_vec(),
    })
}

pub async fn run(global: &GlobalArgs, args: LakeArgs) -> anyhow::Result<ExitCode> {
    let lake = global.open_lake()?;
    match args.command {
        LakeCommand::Ls => {
            println!("lake: {}", lake.root());
            println!("{:<12} {:>8} {:>6} {:>12} {:>12}  partitions", "table", "version", "files", "rows", "bytes");
            for table in LakeTable::ALL {
                match lake.info(table).await? {
                    None => println!("{:<12} {:>8}", table.name(), "(not created yet)"),
                    Some(i) => {
                        println!("{:<12} {:>8} {:>6} {:>12} {:>12}  {}", table.name(), i.version, i.files, i.rows, i.bytes, i.partitions.len());
                        for (p, rows) in &i.partitions {
                            println!("    {p:<40} {rows:>12} rows");
                        }
                    }
                }
            }
        }
        LakeCommand::Compact { table } => {
            for t in tables(&table)? {
                let o = lake.compact(t).await?;
                println!("{}: {} files rewritten into {} (version {})", t.name(), o.files_removed, o.files_added, o.version.map_or("-".into(), |v| v.to_string()));
            }
        }
        LakeCommand::Vacuum { table, retention_hours, dry_run } => {
            for t in tables(&table)? {
                let files = lake.vacuum(t, Duration::from_secs(retention_hours * 3600), dry_run).await?;
                println!("{}: {} {} file(s)", t.name(), if dry_run { "would delete" } else { "deleted" }, files.len());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
