using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// Written by hand like 0001 (the EF design-time package is not available); the SQL is what
// GenerateCreateScript() produces for the webhook outbox in the model.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261122000100_Webhooks")]
public sealed class Webhooks : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE webhook_deliveries (
            "Id" text NOT NULL,
            "Url" text NOT NULL,
            "Event" text NOT NULL,
            "Payload" text NOT NULL,
            "Attempts" integer NOT NULL,
            "NextAttemptAt" timestamp with time zone,
            "DeliveredAt" timestamp with time zone,
            "LastError" text,
            "CreatedAt" timestamp with time zone NOT NULL,
            CONSTRAINT "PK_webhook_deliveries" PRIMARY KEY ("Id")
        );

        CREATE INDEX "IX_webhook_deliveries_NextAttemptAt" ON webhook_deliveries ("NextAttemptAt");
        """);
}
