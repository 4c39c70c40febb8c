using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using Proofsheet.Webhooks;

namespace Proofsheet.Data;

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> b)
    {
        b.ToTable("webhook_deliveries");
        b.HasKey(d => d.Id);
        // The dispatcher's query: what is due, oldest first. Delivered and dead rows have no next attempt.
        b.HasIndex(d => d.NextAttemptAt);
    }
}
