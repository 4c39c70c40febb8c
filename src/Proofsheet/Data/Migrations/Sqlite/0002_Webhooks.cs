using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Written by hand like 0001 (the EF design-time package is not available); the SQL is what
// GenerateCreateScript() produces for the webhook outbox in the model.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261122000100_Webhooks")]
public sealed class Webhooks : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE "webhook_deliveries" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY,
            "Url" TEXT NOT NULL,
            "Event" TEXT NOT NULL,
            "Payload" TEXT NOT NULL,
            "Attempts" INTEGER NOT NULL,
            "NextAttemptAt" TEXT NULL,
            "DeliveredAt" TEXT NULL,
            "LastError" TEXT NULL,
            "CreatedAt" TEXT NOT NULL
        );

        CREATE INDEX "IX_webhook_deliveries_NextAttemptAt" ON "webhook_deliveries" ("NextAttemptAt");
        """);
}
