using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// Review links (issue 12): a person without an account decides on one task, once, through a link
// whose token is kept only as its SHA-256.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261202000201_ReviewLinks")]
public sealed class ReviewLinks : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE review_links (
            "Id" text NOT NULL CONSTRAINT "PK_review_links" PRIMARY KEY,
            "TaskId" text NOT NULL,
            "Label" text NOT NULL,
            "TokenHash" text NOT NULL,
            "CreatedBy" text NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            "ExpiresAt" timestamp with time zone NOT NULL,
            "RevokedAt" timestamp with time zone NULL,
            "UsedAt" timestamp with time zone NULL,
            "Decision" text NULL
        );
        CREATE UNIQUE INDEX "IX_review_links_TokenHash" ON review_links ("TokenHash");
        CREATE INDEX "IX_review_links_TaskId" ON review_links ("TaskId");
        """);
}
