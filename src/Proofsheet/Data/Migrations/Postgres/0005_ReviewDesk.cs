using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// Written by hand: rounds, stars and the trash for candidates, the feedback hint for tasks, and earlier slugs of posts.
// Defaults fill existing rows, then go: the model has none.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261201000200_ReviewDesk")]
public sealed class ReviewDesk : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE image_candidates ADD "Round" integer NOT NULL DEFAULT 1;
        ALTER TABLE image_candidates ALTER COLUMN "Round" DROP DEFAULT;
        ALTER TABLE image_candidates ADD "Stars" integer NOT NULL DEFAULT 0;
        ALTER TABLE image_candidates ALTER COLUMN "Stars" DROP DEFAULT;
        ALTER TABLE image_candidates ADD "TrashedAt" timestamp with time zone NULL;
        ALTER TABLE tasks ADD "Round" integer NOT NULL DEFAULT 1;
        ALTER TABLE tasks ALTER COLUMN "Round" DROP DEFAULT;
        ALTER TABLE tasks ADD "NegativeHint" text NULL;
        CREATE TABLE post_redirects (
            "Slug" text NOT NULL,
            "PostId" text NOT NULL,
            "CreatedAt" timestamp with time zone NOT NULL,
            CONSTRAINT "PK_post_redirects" PRIMARY KEY ("Slug")
        );
        CREATE INDEX "IX_post_redirects_PostId" ON post_redirects ("PostId");
        """);
}
