using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Several nodes: task leases, node heartbeats, shared rate counters and the Data Protection key
// ring. SQLite keeps one node (a second process is refused), but the model is one for both.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261201000100_Cluster")]
public sealed class Cluster : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE "tasks" ADD "LeaseOwner" TEXT NULL;
        ALTER TABLE "tasks" ADD "LeaseExpiresAt" TEXT NULL;
        CREATE INDEX "IX_tasks_LeaseOwner" ON "tasks" ("LeaseOwner");
        ALTER TABLE "task_events" ADD "Node" TEXT NULL;

        CREATE TABLE "nodes" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_nodes" PRIMARY KEY,
            "Host" TEXT NOT NULL,
            "Version" TEXT NULL,
            "StartedAt" TEXT NOT NULL,
            "HeartbeatAt" TEXT NOT NULL
        );

        CREATE TABLE "rate_counters" (
            "Key" TEXT NOT NULL CONSTRAINT "PK_rate_counters" PRIMARY KEY,
            "WindowStart" INTEGER NOT NULL,
            "Count" INTEGER NOT NULL
        );

        CREATE TABLE "data_protection_keys" (
            "Id" INTEGER NOT NULL CONSTRAINT "PK_data_protection_keys" PRIMARY KEY AUTOINCREMENT,
            "FriendlyName" TEXT NULL,
            "Xml" TEXT NULL
        );
        """);
}
