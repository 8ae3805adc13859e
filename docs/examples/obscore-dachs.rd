<!-- A DaCHS (GAVO Data Center Helper Suite) resource descriptor publishing obscat's ObsCore views
     through TAP: a TEMPLATE for DaCHS 2.7 and pgSphere 1.2 (Debian bookworm's gavodachs2-server
     and postgresql-15-pgsphere). The optional CI job `bash .ci/dachs` imports it unchanged into a
     DaCHS of its own, serves HESS DL3 DR1 and checks the rows of ivoa.obscore and
     obscat_vo.obscore_hea over TAP against `obscat obscore export` (docs/obscore.md says which
     columns and how).

     Set-up (the catalogue in the schema "obscat" of DaCHS's own database, SELECT on it for
     gavoadmin, dachs imp): docs/obscore.md, section "Publishing with DaCHS".
     Replace every "example" value (the base URL, the field of view, the metadata) first. -->
<resource schema="obscat_vo" resdir="obscat">
  <meta name="title">IACT observations of an obscat catalogue</meta>
  <meta name="description">The observations of an obscat catalogue (GADF DL3 event lists and their
    IRFs), as IVOA ObsCore 1.1 rows with the High-Energy extension in obscat_vo.obscore_hea.</meta>
  <meta name="creationDate">2026-12-01T00:00:00</meta>
  <meta name="creator.name">Example, A.</meta>
  <meta name="subject">gamma-ray-astronomy</meta>
  <meta name="contentLevel">Research</meta>
  <meta name="type">Archive</meta>

  <!-- obscat's obscore view, published into ivoa.obscore. Each parameter of the mixin defaults to
       the column of its name, one for each column of DaCHS's ivoa.obscore: the parameters below
       replace what obscat leaves to the publisher and give NULL for the columns obscat lacks. -->
  <table id="obscore_src" onDisk="True" adql="hidden">
    <mixin
      dataproduct_subtype="NULL"
      obs_title="NULL"
      obs_creator_did="NULL"
      target_class="NULL"
      s_pixel_scale="NULL"
      em_ucd="NULL"
      preview="NULL"
      obs_publisher_did="'ivo://\getConfig{ivoa}{authority}/' || store || '?' || obs_id"
      access_url="'https://data.example.org/' || store || '/' || access_path"
      s_fov="5.0"
      s_region="(SELECT spoly(spoint(
          radians(s_ra) + atan2(sin(radians(k * 22.5)) * sin(radians(2.5)) * cos(radians(s_dec)),
            cos(radians(2.5)) - sin(radians(s_dec)) * (sin(radians(s_dec)) * cos(radians(2.5))
              + cos(radians(s_dec)) * sin(radians(2.5)) * cos(radians(k * 22.5)))),
          asin(sin(radians(s_dec)) * cos(radians(2.5))
            + cos(radians(s_dec)) * sin(radians(2.5)) * cos(radians(k * 22.5)))) ORDER BY k)
        FROM generate_series(0, 15) AS k)"
      >//obscore#publishObscoreLike</mixin>
    <!-- s_region: DaCHS's ivoa.obscore stores regions as pgSphere spoly (pgSphere 1.2 has no cast from
         scircle), so the field-of-view circle (radius 2.5 deg = s_fov / 2) is a 16-vertex polygon
         whose vertices lie on it: the destination-point formula at bearings k * 22.5 deg. -->
    <column name="dataproduct_type" type="text"/>
    <column name="calib_level" type="smallint"/>
    <column name="obs_collection" type="text"/>
    <column name="obs_id" type="text"/>
    <column name="access_format" type="text"/>
    <column name="access_estsize" type="bigint" unit="kbyte"/>
    <column name="target_name" type="text"/>
    <column name="s_ra" type="double precision" unit="deg"/>
    <column name="s_dec" type="double precision" unit="deg"/>
    <column name="t_min" type="double precision" unit="d"/>
    <column name="t_max" type="double precision" unit="d"/>
    <column name="t_exptime" type="double precision" unit="s"/>
    <column name="t_resolution" type="double precision" unit="s"/>
    <column name="s_resolution" type="double precision" unit="arcsec"/>
    <column name="em_res_power" type="double precision"/>
    <column name="o_ucd" type="text"/>
    <column name="pol_states" type="text"/>
    <column name="em_min" type="double precision" unit="m"/>
    <column name="em_max" type="double precision" unit="m"/>
    <column name="s_xel1" type="bigint"/>
    <column name="s_xel2" type="bigint"/>
    <column name="t_xel" type="bigint"/>
    <column name="em_xel" type="bigint"/>
    <column name="pol_xel" type="bigint"/>
    <column name="facility_name" type="text"/>
    <column name="instrument_name" type="text"/>
    <column name="store" type="text"/>
    <column name="access_path" type="text"/>
    <viewStatement>
      CREATE VIEW \qName (\colNames) AS (
        SELECT dataproduct_type, calib_level, obs_collection, CAST(obs_id AS text), access_format,
          access_estsize, target_name, s_ra, s_dec, t_min, t_max, t_exptime, t_resolution,
          s_resolution, em_res_power, o_ucd, pol_states, em_min, em_max,
          s_xel1, s_xel2, t_xel, em_xel, pol_xel, facility_name, instrument_name, store, access_path
        FROM obscat.obscore)
    </viewStatement>
  </table>

  <!-- The High-Energy extension: its own TAP table, joined to ivoa.obscore on obs_publisher_did
       (built as above, so the two agree). UCDs: obscat's choice (the IVOA Note leaves them TBD). -->
  <table id="obscore_hea" onDisk="True" adql="True">
    <meta name="description">IVOA ObsCore High-Energy extension: join ivoa.obscore USING (obs_publisher_did).</meta>
    <column name="obs_publisher_did" type="text" ucd="meta.ref.ivoid"/>
    <column name="ev_xel" type="bigint" ucd="meta.number"/>
    <column name="energy_min" type="double precision" unit="eV" ucd="em.energy;stat.min"/>
    <column name="energy_max" type="double precision" unit="eV" ucd="em.energy;stat.max"/>
    <column name="t_intervals" type="text" ucd="time.interval"/>
    <column name="tracking_mode" type="text" ucd="meta.code;instr.setup"/>
    <column name="pointing_mode" type="text" ucd="meta.code;instr.setup"/>
    <column name="obs_mode" type="text" ucd="meta.code;instr.setup"/>
    <column name="event_type" type="text" ucd="meta.code.class"/>
    <column name="messenger_name" type="text" ucd="meta.id;phys.particle"/>
    <column name="messenger_pdgid" type="integer" ucd="meta.code;phys.particle"/>
    <viewStatement>
      CREATE VIEW \qName (\colNames) AS (
        SELECT 'ivo://\getConfig{ivoa}{authority}/' || store || '?' || obs_id, ev_xel, energy_min,
          energy_max, t_intervals, tracking_mode, pointing_mode, obs_mode, event_type, messenger_name,
          messenger_pdgid
        FROM obscat.obscore_hea)
    </viewStatement>
  </table>

  <data id="import">
    <make table="obscore_src"/>
    <make table="obscore_hea"/>
  </data>
</resource>
