using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Proofsheet.Data;

/// <summary>A small named value the app keeps for itself (e.g. the Hub password's hash when none is configured).</summary>
public sealed class AppSetting
{
    public required string Key { get; init; }
    public required string Value { get; set; }
    public DateTime UpdatedAt { get; set; }
}

internal sealed class AppSettingConfiguration : IEntityTypeConfiguration<AppSetting>
{
    public void Configure(EntityTypeBuilder<AppSetting> b)
    {
        b.ToTable("settings");
        b.HasKey(s => s.Key);
    }
}
