using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// The published 1200×630 card for og:image and the Twitter card: crawlers show no SVG and crop
// other shapes badly, so a post shares a card made for that purpose (null for posts published before).
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261201000600_SocialCard")]
public sealed class SocialCard : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE posts ADD "SocialImageUrl" text NULL;
        """);
}
