using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// A team, not one password (issue 12): people with roles, their sessions (checked on every request,
// so a revoke holds on every node), one-time invitations, API keys that belong to a person, who asked
// for a task and who is to review it, and the email outbox.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261202000100_People")]
public sealed class People : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE people (
            "Id" text NOT NULL,
            "Name" text NOT NULL,
            "Email" text NOT NULL,
            "Role" text NOT NULL,
            "PasswordHash" text,
            "NotifyByEmail" boolean NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            "DisabledAt" timestamp with time zone,
            CONSTRAINT "PK_people" PRIMARY KEY ("Id")
        );
        CREATE UNIQUE INDEX "IX_people_Email" ON people ("Email");

        CREATE TABLE sessions (
            "Id" text NOT NULL,
            "PersonId" text NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            "RevokedAt" timestamp with time zone,
            CONSTRAINT "PK_sessions" PRIMARY KEY ("Id")
        );
        CREATE INDEX "IX_sessions_PersonId" ON sessions ("PersonId");

        CREATE TABLE invitations (
            "Id" text NOT NULL,
            "TokenHash" text NOT NULL,
            "Name" text NOT NULL,
            "Email" text NOT NULL,
            "Role" text NOT NULL,
            "CreatedBy" text NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            "ExpiresAt" timestamp with time zone NOT NULL,
            "UsedAt" timestamp with time zone,
            CONSTRAINT "PK_invitations" PRIMARY KEY ("Id")
        );
        CREATE UNIQUE INDEX "IX_invitations_TokenHash" ON invitations ("TokenHash");

        CREATE TABLE email_outbox (
            "Id" text NOT NULL,
            "To" text NOT NULL,
            "Subject" text NOT NULL,
            "Body" text NOT NULL,
            "TaskId" text,
            "Kind" text NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            "NextAttemptAt" timestamp with time zone,
            "Attempts" integer NOT NULL,
            "SentAt" timestamp with time zone,
            "LastError" text,
            CONSTRAINT "PK_email_outbox" PRIMARY KEY ("Id")
        );
        CREATE INDEX "IX_email_outbox_NextAttemptAt" ON email_outbox ("NextAttemptAt");

        ALTER TABLE api_keys ADD "PersonId" text;
        ALTER TABLE api_keys ADD "RevokedAt" timestamp with time zone;
        ALTER TABLE tasks ADD "CreatedBy" text;
        ALTER TABLE tasks ADD "AssigneeId" text;
        CREATE INDEX "IX_tasks_AssigneeId" ON tasks ("AssigneeId");
        """);
}
