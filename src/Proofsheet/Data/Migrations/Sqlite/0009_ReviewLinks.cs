using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Review links (issue 12): a person without an account decides on one task, once, through a link
// whose token is kept only as its SHA-256.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261202000201_ReviewLinks")]
public sealed class ReviewLinks : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE "review_links" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_review_links" PRIMARY KEY,
            "TaskId" TEXT NOT NULL,
            "Label" TEXT NOT NULL,
            "TokenHash" TEXT NOT NULL,
            "CreatedBy" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "ExpiresAt" TEXT NOT NULL,
            "RevokedAt" TEXT NULL,
            "UsedAt" TEXT NULL,
            "Decision" TEXT NULL
        );
        CREATE UNIQUE INDEX "IX_review_links_TokenHash" ON "review_links" ("TokenHash");
        CREATE INDEX "IX_review_links_TaskId" ON "review_links" ("TaskId");
        """);
}
