using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Written by hand: rounds, stars and the trash for candidates, the feedback hint for tasks, and earlier slugs of posts.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261201000200_ReviewDesk")]
public sealed class ReviewDesk : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE "image_candidates" ADD "Round" INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE "image_candidates" ADD "Stars" INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE "image_candidates" ADD "TrashedAt" TEXT NULL;
        ALTER TABLE "tasks" ADD "Round" INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE "tasks" ADD "NegativeHint" TEXT NULL;
        CREATE TABLE "post_redirects" (
            "Slug" TEXT NOT NULL CONSTRAINT "PK_post_redirects" PRIMARY KEY,
            "PostId" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL
        );
        CREATE INDEX "IX_post_redirects_PostId" ON "post_redirects" ("PostId");
        """);
}
