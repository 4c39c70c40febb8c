using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// A team, not one password (issue 12): people with roles, their sessions (checked on every request,
// so a revoke holds on every node), one-time invitations, API keys that belong to a person, who asked
// for a task and who is to review it, and the email outbox.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261202000100_People")]
public sealed class People : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE "people" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_people" PRIMARY KEY,
            "Name" TEXT NOT NULL,
            "Email" TEXT NOT NULL,
            "Role" TEXT NOT NULL,
            "PasswordHash" TEXT NULL,
            "NotifyByEmail" INTEGER NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "DisabledAt" TEXT NULL
        );
        CREATE UNIQUE INDEX "IX_people_Email" ON "people" ("Email");

        CREATE TABLE "sessions" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_sessions" PRIMARY KEY,
            "PersonId" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "RevokedAt" TEXT NULL
        );
        CREATE INDEX "IX_sessions_PersonId" ON "sessions" ("PersonId");

        CREATE TABLE "invitations" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_invitations" PRIMARY KEY,
            "TokenHash" TEXT NOT NULL,
            "Name" TEXT NOT NULL,
            "Email" TEXT NOT NULL,
            "Role" TEXT NOT NULL,
            "CreatedBy" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "ExpiresAt" TEXT NOT NULL,
            "UsedAt" TEXT NULL
        );
        CREATE UNIQUE INDEX "IX_invitations_TokenHash" ON "invitations" ("TokenHash");

        CREATE TABLE "email_outbox" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_email_outbox" PRIMARY KEY,
            "To" TEXT NOT NULL,
            "Subject" TEXT NOT NULL,
            "Body" TEXT NOT NULL,
            "TaskId" TEXT NULL,
            "Kind" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "NextAttemptAt" TEXT NULL,
            "Attempts" INTEGER NOT NULL,
            "SentAt" TEXT NULL,
            "LastError" TEXT NULL
        );
        CREATE INDEX "IX_email_outbox_NextAttemptAt" ON "email_outbox" ("NextAttemptAt");

        ALTER TABLE "api_keys" ADD "PersonId" TEXT NULL;
        ALTER TABLE "api_keys" ADD "RevokedAt" TEXT NULL;
        ALTER TABLE "tasks" ADD "CreatedBy" TEXT NULL;
        ALTER TABLE "tasks" ADD "AssigneeId" TEXT NULL;
        CREATE INDEX "IX_tasks_AssigneeId" ON "tasks" ("AssigneeId");
        """);
}
