using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// Written by hand (the EF design-time package is not available): the schema test in
// Proofsheet.IntegrationTests proves that a database built by these migrations matches the model.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261122000000_Initial")]
public sealed class Initial : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        CREATE TABLE "api_keys" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_api_keys" PRIMARY KEY,
            "Hash" TEXT NOT NULL,
            "Label" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL
        );

        CREATE TABLE "image_candidates" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_image_candidates" PRIMARY KEY,
            "TaskId" TEXT NULL,
            "Variation" INTEGER NOT NULL,
            "Prompt" TEXT NOT NULL,
            "NegativePrompt" TEXT NULL,
            "Seed" INTEGER NULL,
            "Source" TEXT NOT NULL,
            "FileName" TEXT NOT NULL,
            "ContentType" TEXT NOT NULL,
            "Width" INTEGER NOT NULL,
            "Height" INTEGER NOT NULL,
            "ByteSize" INTEGER NOT NULL,
            "Sha256" TEXT NOT NULL,
            "GeneratedAt" TEXT NOT NULL,
            "GenerationSeconds" REAL NOT NULL,
            "AttributionName" TEXT NULL,
            "AttributionUrl" TEXT NULL,
            "SourceUrl" TEXT NULL,
            "Status" TEXT NOT NULL,
            "CdnUrl" TEXT NULL,
            "FileDeleted" INTEGER NOT NULL
        );

        CREATE TABLE "posts" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_posts" PRIMARY KEY,
            "Slug" TEXT NOT NULL,
            "Title" TEXT NOT NULL,
            "Excerpt" TEXT NULL,
            "Content" TEXT NULL,
            "MetaDescription" TEXT NULL,
            "Status" TEXT NOT NULL,
            "FeaturedImageUrl" TEXT NULL,
            "FeaturedImageAlt" TEXT NULL,
            "FeaturedImageCredit" TEXT NULL,
            "FeaturedImageCreditUrl" TEXT NULL,
            "PublishedAt" TEXT NULL,
            "TaskId" TEXT NOT NULL,
            "CreatedAt" TEXT NOT NULL,
            "UpdatedAt" TEXT NOT NULL,
            "Version" INTEGER NOT NULL
        );

        CREATE TABLE "task_events" (
            "Id" INTEGER NOT NULL CONSTRAINT "PK_task_events" PRIMARY KEY AUTOINCREMENT,
            "TaskId" TEXT NOT NULL,
            "At" TEXT NOT NULL,
            "Actor" TEXT NOT NULL,
            "Kind" TEXT NOT NULL,
            "FromStatus" TEXT NULL,
            "ToStatus" TEXT NULL,
            "Detail" TEXT NULL
        );

        CREATE TABLE "tasks" (
            "Id" TEXT NOT NULL CONSTRAINT "PK_tasks" PRIMARY KEY,
            "Topic" TEXT NOT NULL,
            "Tone" TEXT NULL,
            "Audience" TEXT NULL,
            "TargetWords" INTEGER NOT NULL,
            "NumVariations" INTEGER NOT NULL,
            "ImageSource" TEXT NULL,
            "Status" TEXT NOT NULL,
            "FailedStatus" TEXT NULL,
            "Error" TEXT NULL,
            "Attempts" INTEGER NOT NULL,
            "NextAttemptAt" TEXT NULL,
            "Title" TEXT NULL,
            "Slug" TEXT NULL,
            "Excerpt" TEXT NULL,
            "Content" TEXT NULL,
            "MetaDescription" TEXT NULL,
            "Keywords" TEXT NULL,
            "ImagePrompt" TEXT NULL,
            "ImageAlt" TEXT NULL,
            "WriterName" TEXT NULL,
            "WriterModel" TEXT NULL,
            "InputTokens" INTEGER NULL,
            "OutputTokens" INTEGER NULL,
            "PostId" TEXT NULL,
            "ImagesPending" INTEGER NOT NULL,
            "NextVariation" INTEGER NOT NULL,
            "SelectedImageId" TEXT NULL,
            "ApprovedBy" TEXT NULL,
            "ApprovedAt" TEXT NULL,
            "CreatedAt" TEXT NOT NULL,
            "UpdatedAt" TEXT NOT NULL,
            "Version" INTEGER NOT NULL
        );

        CREATE UNIQUE INDEX "IX_api_keys_Hash" ON "api_keys" ("Hash");

        CREATE INDEX "IX_image_candidates_Status_GeneratedAt" ON "image_candidates" ("Status", "GeneratedAt");

        CREATE UNIQUE INDEX "IX_image_candidates_TaskId_Variation" ON "image_candidates" ("TaskId", "Variation");

        CREATE UNIQUE INDEX "IX_posts_Slug" ON "posts" ("Slug");

        CREATE INDEX "IX_posts_Status_PublishedAt" ON "posts" ("Status", "PublishedAt");

        CREATE INDEX "IX_posts_TaskId" ON "posts" ("TaskId");

        CREATE INDEX "IX_task_events_TaskId_Id" ON "task_events" ("TaskId", "Id");

        CREATE INDEX "IX_tasks_CreatedAt" ON "tasks" ("CreatedAt");

        CREATE INDEX "IX_tasks_PostId" ON "tasks" ("PostId");

        CREATE INDEX "IX_tasks_Status_NextAttemptAt" ON "tasks" ("Status", "NextAttemptAt");
        """);
}
