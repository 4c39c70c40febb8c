using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Sqlite;

// The model a GPU server reports rendering each candidate with: servers fall back to another model silently.
[DbContext(typeof(SqliteAppDbContext))]
[Migration("20261201000300_CandidateModel")]
public sealed class CandidateModel : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE "image_candidates" ADD "Model" TEXT NULL;
        """);
}
