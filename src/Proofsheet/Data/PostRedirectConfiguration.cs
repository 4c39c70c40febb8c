using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Proofsheet.Posts;

namespace Proofsheet.Data;

internal sealed class PostRedirectConfiguration : IEntityTypeConfiguration<PostRedirect>
{
    public void Configure(EntityTypeBuilder<PostRedirect> b)
    {
        b.ToTable("post_redirects");
        b.HasKey(r => r.Slug);
        b.HasIndex(r => r.PostId);
    }
}
