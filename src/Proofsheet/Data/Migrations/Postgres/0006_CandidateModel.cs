using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// The model a GPU server reports rendering each candidate with: servers fall back to another model silently.
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261201000300_CandidateModel")]
public sealed class CandidateModel : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE image_candidates ADD "Model" text;
        """);
}
