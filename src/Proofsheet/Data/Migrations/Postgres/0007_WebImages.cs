using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace Proofsheet.Data.Migrations.Postgres;

// Images made for the web (issue 14): the 1200×630 card for og:image and the Twitter card (crawlers
// show no SVG and crop other shapes badly), the featured image's size for width/height on the page, and
// its responsive WebP copies as a srcset. All null for posts published before. And the focal point
// a reviewer sets on a candidate (null: libvips' attention crop).
[DbContext(typeof(PostgresAppDbContext))]
[Migration("20261201000600_WebImages")]
public sealed class WebImages : Migration
{
    protected override void Up(MigrationBuilder migrationBuilder) => migrationBuilder.Sql(
        """
        ALTER TABLE posts ADD "SocialImageUrl" text NULL;
        ALTER TABLE posts ADD "FeaturedImageWidth" integer NULL;
        ALTER TABLE posts ADD "FeaturedImageHeight" integer NULL;
        ALTER TABLE posts ADD "FeaturedImageSrcset" text NULL;
        ALTER TABLE image_candidates ADD "FocusX" double precision NULL;
        ALTER TABLE image_candidates ADD "FocusY" double precision NULL;
        """);
}
